"""The gate's rule on hand-made values: direction, tolerance (default: the seed noise) and significance,
Holm–Bonferroni over many metrics, coverage (lost samples fail, whatever the values do), and a seeded
simulation of its false-alarm rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ibench.errors import IbenchError
from ibench.evaluators.coverage import GENERATION_FAILED, measure
from ibench.gate.baseline import Baseline, BaselineMetric, build_baseline, seed_noise
from ibench.gate.check import RunValues, check_metrics
from ibench.gate.rule import MetricCheck, Tolerance, Tolerances, compare_metric, decide, parse_tolerances


def base(values: dict, hib: bool = True, noise: float | None = None) -> BaselineMetric:
    return BaselineMetric(mean=float(np.mean(list(values.values()))), n=len(values), higher_is_better=hib,
                          per_instance=values, seed_noise=noise)


def gate(name: str, baseline: BaselineMetric, current: pd.Series, tol: Tolerance, alpha: float = 0.05) -> MetricCheck:
    """One metric's value through the whole rule (compare, then Holm over a family of one)."""
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
    assert gate("m", base(VALS, noise=0.01), noisy, Tolerance(1.0, "noise")).status == "pass"  # within seed noise
    # worse beyond tolerance on average, but one instance carries it all: not significant
    one = dict(VALS)
    one["i00"] -= 0.4
    c = gate("m", base(VALS), pd.Series(one), Tolerance(0.01))
    assert c.delta == pytest.approx(-0.02) and c.ci_high == 0 and c.status == "within-noise"
    assert c.p_adjusted > 0.05 and "adjusted p" in c.message


def _rows(values: np.ndarray, metric: str = "m", ids: list[str] | None = None) -> pd.DataFrame:
    """Score rows of an instances x samples array (NaN: no row)."""
    ids = ids or [f"i{k:02d}" for k in range(values.shape[0])]
    return pd.DataFrame([{"instance_id": ids[i], "sample": k, "metric": metric, "condition": "c", "value": v}
                         for i in range(values.shape[0]) for k in range(values.shape[1]) if not np.isnan(v := values[i, k])])


def test_the_default_tolerance_is_the_seed_noise_the_baseline_measured():
    """1noise = sqrt(mean_i(2 s_i^2 / k) / n), s_i^2 the variance of instance i's samples; a simulation of reruns
    that redraw the sample noise only shows that is the sd of the rerun's mean difference."""
    rng = np.random.default_rng(3)
    n, k, spread, noise = 60, 4, 0.1, 0.05
    effect = 0.5 + spread * rng.normal(size=(n, 1))
    first = effect + rng.normal(0, noise, (n, k))
    expected = np.sqrt(np.mean(2 * first.var(axis=1, ddof=1) / k) / n)
    assert seed_noise(_rows(first))["m"] == pytest.approx(expected)
    reruns = [(effect + rng.normal(0, noise, (n, k))).mean() - first.mean() for _ in range(2000)]
    theory = np.sqrt(2 * noise ** 2 / k / n)
    assert np.std(reruns) == pytest.approx(theory / np.sqrt(2), rel=0.1)  # the first run fixed: half the variance
    assert expected == pytest.approx(theory, rel=0.25)  # the estimate from one run's samples
    tols = parse_tolerances([])
    assert tols.default == Tolerance(1.0, "noise") and str(tols.default) == "1noise"
    c = compare_metric("m", base(VALS, noise=expected), pd.Series(VALS), tols.default)
    assert c.allowed == pytest.approx(expected)
    assert seed_noise(_rows(first[:, :1]))["m"] is None  # one sample per instance: nothing to measure it from


def test_parse_tolerances():
    tols = parse_tolerances(["0.02", "clip_t=5%", "fid=3", "dino=2noise", "coverage=2", "coverage:judge_o=10%"])
    assert tols.default == Tolerance(0.02) and tols.per == {"clip_t": Tolerance(0.05, "rel"), "fid": Tolerance(3.0),
                                                            "dino": Tolerance(2.0, "noise")}
    assert tols.coverage == Tolerance(2.0) and tols.coverage_per == {"judge_o": Tolerance(0.1, "rel")}
    assert tols.per["clip_t"].absolute(-0.4) == pytest.approx(0.02) and tols.per["dino"].absolute(0.5, 0.01) == 0.02
    for bad in (["clip_t=lots"], ["coverage=1noise"], ["1se"]):
        with pytest.raises(IbenchError, match="--tolerance"):
            parse_tolerances(bad)


def _baseline(values: dict[str, np.ndarray], hib: bool = True) -> Baseline:
    """A baseline of instances x samples arrays per metric (NaN: no value), through the real builder."""
    raw = pd.concat([_rows(v, m) for m, v in values.items()], ignore_index=True)
    coverages = {m: _coverage(v) for m, v in values.items()}
    return Baseline.model_validate(build_baseline(raw, coverages, dict.fromkeys(values, hib),
                                                  {"run_id": "r", "task": "t", "model": "m"}))


def _coverage(v: np.ndarray, failed: set[int] = frozenset()):
    ids = [f"i{k:02d}" for k in range(v.shape[0])]
    made = {(ids[i], k): i not in failed for i in range(v.shape[0]) for k in range(v.shape[1])}
    scored = {(ids[i], k) for i in range(v.shape[0]) for k in range(v.shape[1]) if not np.isnan(v[i, k])}
    return measure(dict.fromkeys(ids, v.shape[1]), made, scored, {}, {})


def _run(values: dict[str, np.ndarray], failed: set[int] = frozenset()) -> RunValues:
    raw = pd.concat([_rows(v, m) for m, v in values.items()], ignore_index=True)
    return RunValues.from_scores(raw, {m: _coverage(v, failed) for m, v in values.items()})


def test_lost_scores_fail_coverage_even_when_the_survivors_look_better():
    """The audit's case: the 20 lowest-DINO of 60 instances have no score rows (their generations succeeded), the
    rest 0.003 worse: the value passes (paired over the 40), coverage fails naming 40 lost samples and why."""
    rng = np.random.default_rng(2)
    dino = 0.43 + 0.15 * rng.normal(size=(60, 1)) + rng.normal(0, 0.05, (60, 2))
    lowest = np.argsort(dino.mean(axis=1))[:20]
    rerun = dino - 0.003
    rerun[lowest] = np.nan
    checks = check_metrics(_baseline({"dino": dino}), _run({"dino": rerun}), parse_tolerances([]))
    decide(checks)
    c = checks[0]
    assert c.current > c.baseline - 0.01 and np.nanmean(rerun) > dino.mean()  # the survivors' mean rose
    assert c.status == "coverage" and c.failed and c.lost == 40 and c.lost_reasons == {"score row missing": 40}
    assert "40 of the baseline's 120 samples" in c.message and "score row missing 40" in c.message
    assert c.coverage_text() == "80/120 vs 120/120 (−40)"
    allowed = check_metrics(_baseline({"dino": dino}), _run({"dino": rerun}), parse_tolerances(["coverage=40"]))
    decide(allowed)
    assert allowed[0].status != "coverage"


def test_failed_generations_count_like_any_lost_sample_and_a_share_tolerance_allows_them():
    rng = np.random.default_rng(4)
    values = 0.5 + 0.1 * rng.normal(size=(30, 1)) + rng.normal(0, 0.02, (30, 3))
    rerun = values.copy()
    rerun[:10] = np.nan  # a third of the instances: every generation failed
    run = _run({"m": rerun}, failed=set(range(10)))
    checks = check_metrics(_baseline({"m": values}), run, parse_tolerances([]))
    decide(checks)
    assert checks[0].status == "coverage" and checks[0].lost_reasons == {GENERATION_FAILED: 30}
    checks = check_metrics(_baseline({"m": values}), run, parse_tolerances(["coverage=34%"]))
    decide(checks)
    assert checks[0].status == "pass" and checks[0].lost_allowed == pytest.approx(0.34 * 90)


def test_a_planted_drop_among_many_metrics_fails_and_p_values_are_holm_adjusted():
    """8 metrics, one 0.25 sd worse on every instance (plus noise): it alone fails; the adjusted p-values are
    statsmodels' Holm on the raw ones."""
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(11)
    baseline, rerun = {}, {}
    for m in range(8):
        effect = rng.normal(0.5, 0.1, (60, 1))
        baseline[f"m{m}"] = effect + rng.normal(0, 0.02, (60, 2))
        rerun[f"m{m}"] = effect + rng.normal(0, 0.02, (60, 2)) - (0.025 if m == 3 else 0.0)
    checks = check_metrics(_baseline(baseline), _run(rerun), parse_tolerances([]))
    decide(checks)
    assert [c.metric for c in checks if c.failed] == ["m3"] and checks[3].status == "regression"
    raw = [c.p_value for c in checks]
    np.testing.assert_allclose([c.p_adjusted for c in checks], multipletests(raw, method="holm")[1])


def test_false_alarms_stay_at_the_stated_level_in_a_seeded_simulation(monkeypatch):
    """No true change: 7 correlated metrics at n=60, reruns redraw the per-sample noise only. Holm keeps the
    family-wise false-alarm rate at most alpha = 5% (with tolerance 0: the statistics alone); without it,
    it would be far above."""
    import gc

    monkeypatch.setattr(gc, "collect", lambda *args: 0)  # statsmodels' Holm calls gc.collect() on every call
    rng = np.random.default_rng(0)
    runs, alarms, uncorrected = 300, 0, 0
    cov = 0.5 + 0.5 * np.eye(7)  # instance effects correlated across metrics
    ids = [f"i{k:02d}" for k in range(60)]
    for _ in range(runs):
        effect = rng.multivariate_normal(np.zeros(7), cov, 60)
        baseline, rows = {}, []
        for m in range(7):
            values = 0.5 + 0.1 * effect[:, m] + rng.normal(0, 0.05, 60)
            rerun = 0.5 + 0.1 * effect[:, m] + rng.normal(0, 0.05, 60)
            baseline[f"m{m}"] = base(dict(zip(ids, values)))
            rows += [{"instance_id": i, "metric": f"m{m}", "value": v} for i, v in zip(ids, rerun)]
        means = pd.DataFrame(rows)
        checks = [compare_metric(name, b, means[means["metric"] == name].set_index("instance_id")["value"],
                                 Tolerance(0.0), seed=int(rng.integers(1 << 30))) for name, b in baseline.items()]
        decide(checks)
        alarms += any(c.status == "regression" for c in checks)
        uncorrected += any(c.p_value < 0.05 and c.worse > 0 for c in checks)
    rate, se = alarms / runs, np.sqrt(0.05 * 0.95 / runs)
    assert rate <= 0.05 + 2 * se, rate
    assert uncorrected / runs > 0.12  # the problem Holm solves


def test_tolerances_naming_no_metric_are_found():
    assert Tolerances(Tolerance(0.0), {"a": Tolerance(1.0)}, coverage_per={"b": Tolerance(1.0)}).named() == {"a", "b"}
