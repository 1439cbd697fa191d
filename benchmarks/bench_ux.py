"""Rating speed and report size, measured in one run on this machine (offline, tiny random models).

* rating - the app served by ``streamlit run`` on 127.0.0.1, Debian's Chromium at 1440×900: one rater
  rates every item of a study with the keyboard alone (three conditions + PQ + Enter). Prints seconds
  per item (from the first key to the next item on screen), keys and clicks per item, the time stored
  with each rating, and how far the page would scroll.
* report - the demo report (``scripts/demo.sh``'s commands): bytes per part; ``report.md`` characters
  for 12 tasks × 5 models with human ratings (synthetic results); build + write time.

    python benchmarks/bench_ux.py [--items 20] [--skip-rating] [--skip-report]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SHARED = ROOT.parent / "shared" / "data"


def bench_rating(items: int, tmp: Path) -> None:
    from human_fixtures import make_runs, one_rater
    from test_human_browser import IN_VIEW, KEY, chromium, open_as_rater, serving

    os.environ["IBENCH_CACHE_DIR"] = str(tmp / "cache")
    runs = make_runs(SHARED, tmp, limit=max(1, items // 2))
    db = tmp / "bench.db"
    tokens, engine, _, slots = one_rater(db, runs, "bench")
    n = len(slots)
    values = [1.0, 0.5, 1.0, 1.0]
    seconds, scroll = [], []
    with serving(db, tmp / "streamlit.log") as url, chromium(tmp) as ctx:
        page = open_as_rater(ctx, url, tokens.raters["bench"], [])
        clicks0 = page.evaluate("window.__clicks")
        for k in range(n):
            lay = page.evaluate(IN_VIEW)
            scroll.append(max(lay["scroll"], 0) + len(lay["off"]))
            then = f"Item {k + 2} of {n}" if k + 1 < n else f"All {n} items are done"
            start = time.perf_counter()
            for key in [KEY[v] for v in values] + ["Enter"]:
                page.keyboard.press(key)
            page.get_by_text(then).first.wait_for()
            seconds.append(time.perf_counter() - start)
        clicks = page.evaluate("window.__clicks") - clicks0
    from ibench.human_eval.aggregate import ratings_frame

    stored = ratings_frame(engine)["seconds"].tolist()
    q = statistics.quantiles(seconds, n=10)
    print(f"rating: {n} items, 1440x900, keyboard only")
    print(f"  keys per item         {len(values) + 1}")
    print(f"  clicks per item       {clicks / n:.2f}")
    print(f"  seconds per item      mean {statistics.mean(seconds):.3f}  median {statistics.median(seconds):.3f}  "
          f"p90 {q[-1]:.3f}  (first key -> next item on screen)")
    print(f"  stored seconds        median {statistics.median(stored):.3f} (time on screen before the save)")
    print(f"  off-screen parts / px to scroll, worst item: {max(scroll)}")


def bench_report(tmp: Path) -> None:
    from test_report_size import _demo_commands, synthetic_report

    from ibench.report.render import render_markdown

    out = tmp / "demo"
    env = {**os.environ, "IBENCH_CACHE_DIR": str(tmp / "cache")}
    start = time.perf_counter()
    for cmd in _demo_commands(tmp / "runs", out):
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    demo_s = time.perf_counter() - start
    parts = {"index.html": out / "index.html", "samples.html": out / "samples.html", "report.md": out / "report.md",
             "results.json": out / "results.json"}
    sizes = {k: p.stat().st_size for k, p in parts.items()}
    sizes["media/"] = sum(p.stat().st_size for p in (out / "media").rglob("*") if p.is_file())
    sizes["tables/"] = sum(p.stat().st_size for p in (out / "tables").rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"report: the demo report (run + score + report: {demo_s:.1f} s)")
    for k, v in sizes.items():
        print(f"  {k:14s} {v:>9,d} bytes")
    print(f"  {'total':14s} {total:>9,d} bytes ({total / 1_000_000:.3f} MB; limit 1 MB)")
    report = synthetic_report()
    start = time.perf_counter()
    md = render_markdown(report)
    print(f"  report.md for 12 tasks x 5 models with human ratings: {len(md):,d} characters (limit 65,536), "
          f"rendered in {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--skip-rating", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_rating:
            bench_rating(args.items, Path(tmp) / "rating")
        if not args.skip_report:
            bench_report(Path(tmp) / "report")


if __name__ == "__main__":
    main()
