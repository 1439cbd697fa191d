"""The gate's rule on hand-made values: direction, tolerance (default 1se) and significance, Holm–Bonferroni
over many metrics, planted failures, and a seeded simulation of its false-alarm rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ibench.errors import IbenchError
from ibench.report.gate import MetricCheck, Tolerance, compare_metric, decide, parse_tolerances


def base(values: dict, hib: bool = True) -> dict:
    return {"mean": float(np.mean(list(values.values()))), "higher_is_better": hib, "per_instance": values}


def gate(name: str, baseline: dict, current: pd.Series, tol: Tolerance, alpha: float = 0.05) -> MetricCheck:
    """One metric through the whole rule (compare, then Holm over a family of one)."""
    check = compare_metric(name, baseline, current, tol)
    decide([check], alpha)
    return check


IDS = [f"i{k:02d}" for k in range(20)]
RNG = np.random.default_rng(0)
VALS = dict(zip(IDS, RNG.uniform(0.2, 0.4, 20)))


def test_identical_passes_with_a_zero_width_interval():
    c = gate("clip_t", base(VALS), pd.Series(VALS), Tolerance(0.0))
    assert c.status == "pass" and c.delta == 0 and c.ci_low == c.ci_high == 0 and c.pairing == "paired"
    assert c.p_value == 1.0


@pytest.mark.parametrize("hib,shift,status", [(True, -0.05, "regression"), (True, +0.05, "improved"),
                                              (False, +0.05, "regression"), (False, -0.05, "improved")])
def test_direction_decides_what_is_worse(hib, shift, status):
    cur = pd.Series({k: v + shift for k, v in VALS.items()})
    c = gate("m", base(VALS, hib), cur, Tolerance(0.01))
    assert c.status == status and c.delta == pytest.approx(shift)


def test_tolerance_and_significance_must_both_be_exceeded():
    noisy = pd.Series({k: v - 0.004 + RNG.normal(0, 0.0005) for k, v in VALS.items()})
    assert gate("m", base(VALS), noisy, Tolerance(0.0)).status == "regression"
    assert gate("m", base(VALS), noisy, Tolerance(0.01)).status == "pass"  # within tolerance
    assert gate("m", base(VALS), noisy, Tolerance(1.0, "rel")).status == "pass"  # 100% of the mean
    # worse beyond tolerance on average, but one instance carries it all: not significant
    one = dict(VALS)
    one["i00"] -= 0.4
    c = gate("m", base(VALS), pd.Series(one), Tolerance(0.01))
    assert c.delta == pytest.approx(-0.02) and c.ci_high == 0 and c.status == "within-noise"
    assert c.p_adjusted > 0.05 and "adjusted p" in c.message


def test_default_tolerance_is_one_standard_error_of_the_baseline_mean():
    default, _ = parse_tolerances([])
    se = np.std(list(VALS.values()), ddof=1) / np.sqrt(20)
    assert default == Tolerance(1.0, "se") and str(default) == "1se"
    c = compare_metric("m", base(VALS), pd.Series(VALS), default)
    assert c.allowed == pytest.approx(se)
    wide = {k: v * 3 - 0.6 for k, v in VALS.items()}  # a noisier metric gets a wider tolerance
    assert compare_metric("m", base(wide), pd.Series(wide), default).allowed == pytest.approx(3 * se)


def test_few_matched_instances_are_missing_and_partial_matches_say_so():
    partial = {k: v for k, v in list(VALS.items())[:5]}
    c = gate("m", base(VALS), pd.Series(partial), Tolerance(0.01))
    assert c.pairing == "paired" and c.n == 5 and "5 of 20" in c.message and c.status == "pass"
    c = gate("m", base(VALS), pd.Series({"i00": 0.3, "x": 0.2}), Tolerance(0.01))
    assert c.status == "missing" and "1 of 20" in c.message


def test_parse_tolerances():
    default, per = parse_tolerances(["0.02", "clip_t=5%", "fid=3", "dino=2se"])
    assert default == Tolerance(0.02) and per == {"clip_t": Tolerance(0.05, "rel"), "fid": Tolerance(3.0),
                                                  "dino": Tolerance(2.0, "se")}
    assert per["clip_t"].absolute(-0.4) == pytest.approx(0.02) and per["dino"].absolute(0.5, 0.01) == 0.02
    with pytest.raises(IbenchError, match="--tolerance"):
        parse_tolerances(["clip_t=lots"])


def test_a_planted_drop_among_many_metrics_fails_and_p_values_are_holm_adjusted():
    """8 metrics, one 0.25 sd worse on every instance (plus noise): it alone fails; the adjusted p-values are
    statsmodels' Holm on the raw ones."""
    from statsmodels.stats.multitest import multipletests

    from ibench.report.gate import check_metrics

    rng = np.random.default_rng(11)
    ids = [f"i{k:02d}" for k in range(60)]
    baseline, rows = {}, []
    for m in range(8):
        values = rng.normal(0.5, 0.1, 60)
        baseline[f"m{m}"] = base(dict(zip(ids, values)))
        rerun = values + rng.normal(0, 0.02, 60) - (0.025 if m == 3 else 0.0)
        rows += [{"instance_id": i, "metric": f"m{m}", "value": v} for i, v in zip(ids, rerun)]
    checks = check_metrics(baseline, pd.DataFrame(rows), Tolerance(1.0, "se"), {})
    decide(checks)
    assert [c.metric for c in checks if c.status == "regression"] == ["m3"]
    raw = [c.p_value for c in checks]
    np.testing.assert_allclose([c.p_adjusted for c in checks], multipletests(raw, method="holm")[1])


def test_planted_failures_fail_the_gate_even_when_the_survivors_look_fine():
    """20 of 60 instances fail: failure_rate regresses. Also when the 20 that fail are the lowest scorers and the
    rest got slightly worse, so that the metric over matched instances barely moves."""
    ids = [f"i{k:02d}" for k in range(60)]
    rng = np.random.default_rng(2)
    values = dict(zip(ids, rng.normal(0.5, 0.1, 60)))
    no_failures = base(dict.fromkeys(ids, 0.0), hib=False)
    lowest = sorted(ids, key=values.get)[:20]
    shares = pd.Series({i: 1.0 if i in lowest else 0.0 for i in ids})
    failed = gate("failure_rate", no_failures, shares, Tolerance(1.0, "se"))
    assert failed.status == "regression" and failed.current == pytest.approx(1 / 3)
    survivors = pd.Series({i: v - 0.01 for i, v in values.items() if i not in lowest})
    metric = gate("dino", base(values), survivors, Tolerance(1.0, "se"))
    assert metric.status != "regression" and "40 of 60" in metric.message  # pairing hides the failures...
    few = gate("failure_rate", no_failures, pd.Series({i: float(i == "i00") for i in ids}), Tolerance(1.0, "se"))
    assert few.status == "within-noise"  # ...one failed instance in 60 is within noise


def test_false_alarms_stay_at_the_stated_level_in_a_seeded_simulation(monkeypatch):
    """No true change: 7 correlated metrics at n=60, reruns differ by per-instance noise only. Holm keeps the
    family-wise false-alarm rate at most alpha = 5%; without it, it would be far above."""
    import gc

    from ibench.report.gate import check_metrics

    monkeypatch.setattr(gc, "collect", lambda *args: 0)  # statsmodels' Holm calls gc.collect() on every call
    rng = np.random.default_rng(0)
    ids = [f"i{k:02d}" for k in range(60)]
    runs, alarms, uncorrected = 300, 0, 0
    cov = 0.5 + 0.5 * np.eye(7)  # instance effects correlated across metrics
    for _ in range(runs):
        effect = rng.multivariate_normal(np.zeros(7), cov, 60)
        baseline, rows = {}, []
        for m in range(7):
            values = 0.5 + 0.1 * effect[:, m] + rng.normal(0, 0.05, 60)
            rerun = 0.5 + 0.1 * effect[:, m] + rng.normal(0, 0.05, 60)
            baseline[f"m{m}"] = base(dict(zip(ids, values)))
            rows += [{"instance_id": i, "metric": f"m{m}", "value": v} for i, v in zip(ids, rerun)]
        checks = check_metrics(baseline, pd.DataFrame(rows), Tolerance(0.0), {}, seed=int(rng.integers(1 << 30)))
        decide(checks)
        alarms += any(c.status == "regression" for c in checks)
        uncorrected += any(c.p_value < 0.05 and c.worse > 0 for c in checks)
    rate, se = alarms / runs, np.sqrt(0.05 * 0.95 / runs)
    assert rate <= 0.05 + 2 * se, rate  # tolerance 0: the statistics alone hold the level
    assert uncorrected / runs > 0.12  # the problem Holm solves
