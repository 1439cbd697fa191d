"""``ibench judge meta`` over every released judge, seconds measured in one run on this machine.

    .venv/bin/python benchmarks/bench_meta.py [--resamples N] [--statistic S ...]

1. VIEScore: ImagenHub's ratings (VIEScore's copy) against every released setting (17 ``results_*`` folders:
   GPT-4o, GPT-4v, Gemini, LLaVA, Qwen-VL, BLIP-2, InstructBLIP, Fuyu, CogVLM, OpenFlamingo; up to 7 tasks
   each) and the traditional metrics, with the human ceiling: the whole command, reading included;
2. GenAI-Bench: every judge's votes of both image tasks;
each with ``--resamples`` bootstrap replicates (default 1000, the command's default) and, for comparison,
none. Reads ../shared/data only; writes to a temporary folder. The figure is printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def run(args: list[str]) -> float:
    """Seconds of one in-process ``ibench`` command (its table goes to a file, not the terminal)."""
    from contextlib import redirect_stdout
    from io import StringIO

    from ibench.cli import main

    start = time.perf_counter()
    with redirect_stdout(StringIO()):
        try:
            main(args)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise SystemExit(f"ibench {' '.join(args)} failed ({exc.code})") from None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--statistic", action="append", default=None)
    args = parser.parse_args()
    viescore = DATA / "viescore"
    settings = sorted(p.name for p in (viescore / "_answers").glob("results_*") if p.name != "results_autometrics")
    tasks = sum(1 for s in settings for _ in (viescore / "_answers" / s).glob("ImagenHub_*"))
    stats = [x for s in (args.statistic or ["spearman"]) for x in ("--statistic", s)]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("IBENCH_CACHE_DIR", str(Path(tmp) / "cache"))
        run(["judge", "meta", "--judge", f"genaibench:{DATA / 'genaibench' / 'results'}", "--resamples", "0",
             "--format", "md"])  # warm the imports once, so both figures measure the work
        print(f"cores: {len(os.sched_getaffinity(0))}; VIEScore settings: {len(settings)}, (setting, task) folders: "
              f"{tasks}; statistics: {', '.join(args.statistic or ['spearman'])}")
        for resamples in sorted({0, args.resamples}):
            vs = run(["judge", "meta", "--human", f"imagenhub:{viescore / '_human_annotations' / 'ImagenHub_human_eval_results'}",
                      "--judge", f"viescore:{viescore / '_answers'}",
                      "--judge", f"viescore-metrics:{viescore / '_answers' / 'results_autometrics'}",
                      "--average", "viescore", *stats, "--resamples", str(resamples),
                      "--csv", str(Path(tmp) / "viescore.csv"), "--format", "md"])
            gb = run(["judge", "meta", "--judge", f"genaibench:{DATA / 'genaibench' / 'results'}",
                      "--resamples", str(resamples), "--csv", str(Path(tmp) / "genaibench.csv"), "--format", "md"])
            print(f"resamples {resamples:>5}: VIEScore, every released setting + metrics + ceiling: {vs:6.1f} s; "
                  f"GenAI-Bench, every judge: {gb:5.1f} s; together {vs + gb:6.1f} s")


if __name__ == "__main__":
    if not (DATA / "viescore").is_dir():
        sys.exit(f"needs the shared data at {DATA}")
    main()
