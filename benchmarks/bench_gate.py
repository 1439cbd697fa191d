"""False-alarm rate and power of ``ibench check`` at n=60 instances, by seeded simulation.

The model: 7 metrics whose instance effects are correlated (ρ = 0.5 between metrics, spread
σ = 0.1 around 0.5); a rerun keeps the instance effects and redraws per-instance noise (sd 0.05,
the noise of a mean over a few samples). The baseline has no failed generation. Scenarios:

* **no change** (the false-alarm rate: the share of runs where any check fails);
* a **planted drop** of d·σ on every instance of one metric (power: that metric fails);
* **planted failures**: k of the 60 instances fail entirely (power: the gate fails);
* the **20 lowest-scoring instances fail** and the rest get 0.1σ worse on every metric.

Each is run through the real checks (``ibench.report.gate.check_metrics`` + ``decide``) with the
defaults (Holm–Bonferroni at α = 0.05, tolerance 1se) and through the old rule for comparison (no
multiplicity correction, tolerance 1% of the mean, the 95% CI of the difference excluding 0, no
failure gating).

    python benchmarks/bench_gate.py [--runs 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from ibench.report.gate import FAILURES, Tolerance, check_metrics, decide  # noqa: E402


def _no_gc_in_holm() -> None:
    """statsmodels' Holm branch calls gc.collect() on every call (~0.1 s here): nothing for one check, most of
    the time of thousands of simulated ones. This process only simulates, so collections are skipped."""
    import gc

    gc.collect = lambda *args: 0


N, METRICS, SPREAD, NOISE, RHO = 60, 7, 0.1, 0.05, 0.5
IDS = [f"i{k:02d}" for k in range(N)]


def simulate(rng: np.random.Generator, drop: float = 0.0, failed: int = 0, lowest_fail: bool = False,
             shift_rest: float = 0.0) -> tuple[list, dict]:
    """One baseline and one rerun through both rules: (new checks, old-rule verdicts per metric)."""
    cov = RHO + (1 - RHO) * np.eye(METRICS)
    effect = rng.multivariate_normal(np.zeros(METRICS), cov, N)
    baseline, rows = {}, []
    base_values = 0.5 + SPREAD * effect + rng.normal(0, NOISE, (N, METRICS))
    rerun = 0.5 + SPREAD * effect + rng.normal(0, NOISE, (N, METRICS))
    rerun[:, 0] -= drop * SPREAD
    rerun -= shift_rest * SPREAD
    order = np.argsort(base_values[:, 0])
    gone = set(order[:failed]) if lowest_fail else set(rng.choice(N, failed, replace=False))
    for m in range(METRICS):
        per = dict(zip(IDS, base_values[:, m]))
        baseline[f"m{m}"] = {"mean": float(np.mean(base_values[:, m])), "higher_is_better": True, "per_instance": per}
        rows += [{"instance_id": IDS[i], "metric": f"m{m}", "value": rerun[i, m]} for i in range(N) if i not in gone]
    baseline[FAILURES] = {"mean": 0.0, "higher_is_better": False, "per_instance": dict.fromkeys(IDS, 0.0)}
    rows += [{"instance_id": IDS[i], "metric": FAILURES, "value": float(i in gone)} for i in range(N)]
    seed = int(rng.integers(1 << 30))
    new = check_metrics(baseline, pd.DataFrame(rows), Tolerance(1.0, "se"), {}, seed=seed)
    decide(new)
    old = check_metrics({k: v for k, v in baseline.items() if k != FAILURES}, pd.DataFrame(rows),
                        Tolerance(0.01, "rel"), {}, seed=seed)
    old_flags = {c.metric: c.worse > c.allowed and c.ci_high < 0 for c in old}  # worse beyond 1%, CI excludes 0
    return new, old_flags


def rates(runs: int, seed: int, target: str | None = None, **scenario) -> tuple[float, float]:
    """(new-rule rate, old-rule rate): of any failing check, or of ``target`` failing."""
    rng = np.random.default_rng(seed)
    new_hits = old_hits = 0
    for _ in range(runs):
        new, old = simulate(rng, **scenario)
        if target is None:
            new_hits += any(c.failed for c in new)
            old_hits += any(old.values())
        else:
            new_hits += any(c.failed for c in new if c.metric == target)
            old_hits += old[target]
    return new_hits / runs, old_hits / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    _no_gc_in_holm()
    print(f"n={N} instances, {METRICS} metrics (ρ={RHO}), instance spread σ={SPREAD}, rerun noise sd={NOISE}; "
          f"{args.runs} seeded runs per row")
    print(f"{'scenario':<52} {'ibench (Holm, 1se)':>19} {'old rule':>9}")
    se = np.sqrt(0.05 * 0.95 / args.runs)
    new, old = rates(args.runs, args.seed)
    print(f"{'no change: false alarms (any check fails)':<52} {new:>19.1%} {old:>9.1%}   "
          f"(stated level 5%, MC se {se:.1%})")
    for d in (0.1, 0.2, 0.3, 0.5):
        new, old = rates(args.runs, args.seed + 1, target="m0", drop=d)
        print(f"{f'drop of {d:g}σ in one metric: power':<52} {new:>19.1%} {old:>9.1%}")
    for k in (1, 3, 5, 10, 20):
        new, old = rates(args.runs, args.seed + 2, failed=k)
        print(f"{f'{k} of {N} instances fail: gate fails':<52} {new:>19.1%} {old:>9.1%}")
    new, old = rates(args.runs, args.seed + 3, failed=20, lowest_fail=True, shift_rest=0.1)
    print(f"{'20 lowest fail, rest 0.1σ worse: gate fails':<52} {new:>19.1%} {old:>9.1%}")


if __name__ == "__main__":
    main()
