"""False alarms, power and planted coverage losses of ``ibench check``, from measured seed variation.

1. **Measure.** A tiny run (``style_subject`` on the synthetic set, the ``tiny`` model, the tiny random
   extractors; N instances x K samples) and a rerun of the same instances with another generation seed, made
   and scored offline (or ``--runs BASELINE RERUN``: two scored runs of your own, same instances, other seeds,
   at least 2 samples per instance). Per metric: the mean, the spread of instance means, the **seed noise**
   the baseline records (``ibench.gate.baseline.seed_noise``: the default tolerance ``1noise``), and the
   rerun's real mean difference in units of it; the real rerun through the real ``ibench check``.
2. **Simulate** reruns of that run: its instance means plus its own within-instance residuals, resampled
   jointly across metrics (seed variation as measured), through the real gate (``build_baseline``,
   ``check_metrics``, ``decide``) at the defaults, beside the value rule of the release before (tolerance
   1se of the baseline mean) without coverage gating (that release also gated the share of failed
   generations per instance, which saw whole failed generations, but neither lost score rows nor judge
   failures). Scenarios: an identical rerun and a zero-mean noise rerun (false alarms: any
   check fails), a 5 % relative drop of each metric (power), and the planted coverage losses: the 20 lowest
   of 60 instances unscored with the rest 0.003 worse (the audit's DINO), judge_o verdicts failing on the 2
   lowest instances with the rest 0.01 worse, and a third of the generations failed. Two profiles are
   assumed, as neither runs offline here: ``judge_o`` (instance means N(0.6, 0.15), sample sd 0.1, on the
   judge's 0.1 grid) and ``dino_audit``, the audit's real DINO (instance means N(0.434, 0.183): its 1se of
   0.0236 at n=60; sample sd 0.041, what its "power 0.17 against -0.02 under 1se" implies at 4 samples).

    python benchmarks/bench_gate.py [--reps 300] [--instances 60] [--samples 4] [--work DIR] [--only SCENARIO]
                                    [--runs BASELINE RERUN]

``--work DIR`` keeps the tiny runs there (and reuses them when they are there already).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from ibench.evaluators.coverage import measure  # noqa: E402
from ibench.gate.baseline import Baseline, build_baseline  # noqa: E402
from ibench.gate.check import RunValues, check_metrics  # noqa: E402
from ibench.gate.rule import decide, parse_tolerances  # noqa: E402

METRICS = "clip_t,dino,clip_i,style_clip,style_gram"
JUDGE, AUDIT = "judge_o", "dino_audit"


def _no_gc_in_holm() -> None:
    """statsmodels' Holm branch calls gc.collect() on every call (~0.1 s here): nothing for one check, most of
    the time of thousands of simulated ones. This process only simulates, so collections are skipped."""
    import gc

    gc.collect = lambda *args: 0


def cli(*args) -> int:
    from ibench.cli import main

    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def make_tiny_runs(tmp: Path, n: int, k: int) -> tuple[Path, Path]:
    """A tiny run and its rerun with another generation seed on the same instances, both scored (kept ones reused)."""
    import os

    os.environ.update(HF_HUB_OFFLINE="1", IBENCH_CACHE_DIR=str(tmp / "cache"))
    kept = [next((tmp / f"seed{s}").glob("*/results.json"), None) if (tmp / f"seed{s}").is_dir() else None
            for s in (0, 1)]
    if all(kept):
        return kept[0].parent, kept[1].parent
    made = []
    assert cli("instances", "--task", "style_subject", "--data-dir", "synthetic", "--limit", n,
               "--out", tmp / "instances.jsonl") == 0
    for seed in (0, 1):
        out = tmp / f"seed{seed}"
        assert cli("generate", "--task", "style_subject", "--model", "tiny", "--data-dir", "synthetic", "--instances",
                   tmp / "instances.jsonl", "--samples", k, "--seed", seed, "--out", out) == 0
        run = next(out.iterdir())
        assert cli("score", run, "--metrics", METRICS, "--extractor-config", "tiny", "--workers", "0") == 0
        made.append(run)
    return made[0], made[1]


def items(run: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """(instance ids, per metric an instances x samples array of per-sample values) of a scored run."""
    from ibench.evaluators.results import load_scores
    from ibench.report.runs import item_values

    df = item_values(load_scores(run))
    ids = sorted(df["instance_id"].unique())
    k = int(df["sample"].max()) + 1
    out = {}
    for metric, g in df.groupby("metric"):
        a = np.full((len(ids), k), np.nan)
        a[[ids.index(i) for i in g["instance_id"]], g["sample"].to_numpy()] = g["value"].to_numpy()
        out[str(metric)] = a
    return ids, out


def measured(base: Path, rerun: Path) -> pd.DataFrame:
    """Per metric: mean, instance spread, seed noise (the default tolerance), the real rerun's difference."""
    from ibench.gate.baseline import seed_noise
    from ibench.evaluators.results import load_scores

    noise = seed_noise(load_scores(base))
    _, a = items(base)
    _, b = items(rerun)
    rows = []
    for m in sorted(a):
        delta = float(np.nanmean(np.nanmean(b[m], axis=1) - np.nanmean(a[m], axis=1)))
        rows.append({"metric": m, "mean": float(np.nanmean(a[m])), "instance_sd": float(np.nanstd(np.nanmean(a[m], 1),
                                                                                               ddof=1)),
                     "sample_sd": float(np.sqrt(np.nanmean(np.nanvar(a[m], axis=1, ddof=1)))), "seed_noise": noise[m],
                     "rerun_delta": delta, "delta_in_noise": delta / noise[m] if noise[m] else np.nan})
    return pd.DataFrame(rows)


class Simulator:
    """Draws runs like the measured one: its instance means plus residuals resampled jointly across metrics."""

    def __init__(self, values: dict[str, np.ndarray], rng: np.random.Generator):
        self.names = sorted(values)
        stack = np.stack([values[m] for m in self.names])  # metrics x n x k
        self.n, self.k = stack.shape[1:]
        self.means = np.nanmean(stack, axis=2)
        resid = (stack - self.means[..., None]) * np.sqrt(self.k / (self.k - 1))
        self.resid = resid.reshape(len(self.names), -1)
        self.rng = rng
        self.judge = np.clip(rng.normal(0.6, 0.15, self.n), 0.05, 0.95)  # the assumed profiles
        self.audit = rng.normal(0.434, 0.183, self.n)

    def draw(self) -> dict[str, np.ndarray]:
        idx = self.rng.integers(0, self.n * self.k, (self.n, self.k))
        out = {m: self.means[j][:, None] + self.resid[j][idx] for j, m in enumerate(self.names)}
        out[JUDGE] = np.clip(np.round((self.judge[:, None] + self.rng.normal(0, 0.1, (self.n, self.k))) * 10) / 10, 0, 1)
        out[AUDIT] = self.audit[:, None] + self.rng.normal(0, 0.041, (self.n, self.k))
        return out


def inputs(values: dict[str, np.ndarray], failed_gen: np.ndarray, reasons: dict[str, str]) -> tuple:
    """(score rows, coverages) of per-metric arrays (NaN: no value); ``reasons``: metric -> why its unscored
    samples (of generations that succeeded) have no value, recorded by the kind."""
    n, k = failed_gen.shape
    ids = [f"i{i:03d}" for i in range(n)]
    frames, coverages = [], {}
    made = {(ids[i], s): not failed_gen[i, s] for i in range(n) for s in range(k)}
    for m, a in values.items():
        keep = ~np.isnan(a)
        ii, ss = np.nonzero(keep)
        frames.append(pd.DataFrame({"instance_id": np.array(ids)[ii], "sample": ss, "metric": m, "condition": "c",
                                    "value": a[keep]}))
        scored = set(zip(np.array(ids)[ii], ss.tolist()))
        failed = {key: reasons[m] for key, ok in made.items() if ok and key not in scored and m in reasons}
        coverages[m] = measure(dict.fromkeys(ids, k), made, scored, failed, {})
    return pd.concat(frames, ignore_index=True), coverages


def scenarios(sim: Simulator, base: dict[str, np.ndarray]):
    """(name, rerun arrays, generations failed, kind reasons, metric whose failure counts or None: any)."""
    n, k = sim.n, sim.k
    none = np.zeros((n, k), bool)
    yield "identical rerun", {m: a.copy() for m, a in base.items()}, none, {}, None
    yield "zero-mean noise rerun (new seeds)", sim.draw(), none, {}, None
    for m in base:
        r = sim.draw()
        r[m] = r[m] - 0.05 * abs(np.nanmean(base[m]))
        yield f"5% drop of {m}", r, none, {}, m
    for m in ("dino", AUDIT):
        r = sim.draw()
        lowest = np.argsort(np.nanmean(base[m], axis=1))[:round(n / 3)]
        r[m] = r[m] - 0.003
        r[m][lowest] = np.nan
        yield f"{len(lowest)} lowest {m} of {n} unscored, rest 0.003 worse", r, none, {}, None
    r = sim.draw()
    worst = np.argsort(np.nanmean(base[JUDGE], axis=1))[:2]
    r[JUDGE] = r[JUDGE] - 0.01
    r[JUDGE][worst] = np.nan
    yield f"judge_o refused on the 2 lowest of {n}, rest 0.01 worse", r, none, {JUDGE: "judge: refusal"}, None
    r = sim.draw()
    failed = np.zeros((n, k), bool)
    failed.flat[sim.rng.choice(n * k, round(n * k / 3), replace=False)] = True
    yield "a third of generations failed", {m: np.where(failed, np.nan, a) for m, a in r.items()}, failed, {}, None


def simulate(values: dict[str, np.ndarray], reps: int, seed: int, only: str = "") -> pd.DataFrame:
    """Detection rate of every scenario (those whose name starts with ``only``) under the defaults and under the
    value rule before (1se, no coverage gating)."""
    sim = Simulator(values, np.random.default_rng(seed))
    hits: dict[str, list[int]] = {}
    run = {"run_id": "sim", "task": "style_subject", "model": "tiny"}
    for _ in range(reps):
        base = sim.draw()
        rows, coverages = inputs(base, np.zeros((sim.n, sim.k), bool), {})
        baseline = Baseline.model_validate(build_baseline(rows, coverages, dict.fromkeys(base, True), run))
        before = [f"{m}={np.std(list(b.per_instance.values()), ddof=1) / np.sqrt(b.n):.6g}"
                  for m, b in baseline.metrics.items()] + ["coverage=100%"]
        for name, rerun, failed, reasons, target in scenarios(sim, base):
            if not name.startswith(only):
                continue
            values_run = RunValues.from_scores(*inputs(rerun, failed, reasons))
            counts = hits.setdefault(name, [0, 0])
            for j, specs in enumerate(([], before)):
                checks = check_metrics(baseline, values_run, parse_tolerances(specs), seed=int(sim.rng.integers(1 << 30)))
                decide(checks)
                counts[j] += any(c.failed for c in checks if target is None or c.metric == target)
    return pd.DataFrame([{"scenario": k, "ibench": a / reps, "1se, no coverage": b / reps} for k, (a, b) in hits.items()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--instances", type=int, default=60)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", nargs=2, type=Path, metavar=("BASELINE", "RERUN"),
                        help="two scored runs of the same instances with other seeds (default: make tiny ones)")
    parser.add_argument("--work", type=Path, help="keep (and reuse) the tiny runs here")
    parser.add_argument("--only", default="", help="simulate only the scenarios whose name starts with this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        base, rerun = args.runs or make_tiny_runs(work, args.instances, args.samples)
        _, values = items(base)
        table = measured(base, rerun)
        b = Path(tmp) / "baseline.json"
        assert cli("baseline", base, "--out", b) == 0
        code = cli("check", rerun, "--baseline", b, "--format", "md")
    _no_gc_in_holm()
    n, k = next(iter(values.values())).shape
    print(f"\n# measured: {'tiny runs' if not args.runs else 'given runs'}, {n} instances x {k} samples, "
          f"and a rerun with other generation seeds")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"real seed rerun through `ibench check` at the defaults: exit {code}")
    result = simulate(values, args.reps, args.seed, args.only)
    se = np.sqrt(0.05 * 0.95 / args.reps)
    print(f"\n# simulated from the measured run: {args.reps} replicates per row (MC se at 5%: {se:.1%}); "
          f"ibench = the defaults (1noise, Holm at 0.05, coverage tolerance 0)")
    print(result.to_string(index=False, formatters={c: "{:.1%}".format for c in result.columns[1:]}))


if __name__ == "__main__":
    main()
