"""Crash and concurrency figures: how often a rerun after a SIGKILL ends complete and clean, and what
two processes racing on one run dir (or on an empty cache) leave behind.

* random kills: ``ibench run`` (tiny, synthetic, generate + score) then ``ibench report``, each
  SIGKILLed at a seeded moment of its life, then rerun; the rerun must end with every sample made
  once, every image intact, no torn record and no stray temp file, and a whole report;
* kills inside writes: the n-th image write, record append, score file, results.json, index.html
  and table write of a command is cut half-way and the process SIGKILLs itself (tests/faults.py);
* races: two ``ibench run`` on one run dir at once (one set of records?), and two first runs on an
  empty cache into different folders (both succeed?).

    python benchmarks/bench_faults.py [--kills 8] [--races 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from crash_checks import check_report, check_run, environment, ibench  # noqa: E402

N, K = 3, 2
INJECTED = [("replace", "*.png", "run"), ("append", "generations.jsonl", "run"), ("replace", "*.jsonl", "run"),
            ("replace", "results.json", "run"), ("replace", "index.html", "report"), ("replace", "*.csv", "report")]


def run_args(out: Path) -> list:
    return ["run", "-t", "style_subject", "-m", "tiny", "-d", "synthetic", "-n", N, "-k", K, "-o", out,
            "--extractor-config", "tiny"]


def clean(out: Path, report: Path) -> bool:
    try:
        (run,) = [p for p in out.iterdir() if p.is_dir()]
        check_run(run, N, K, scored=True)
        check_report(report)
        return True
    except (AssertionError, ValueError, OSError) as exc:
        print(f"    not clean: {exc}"[:300])
        return False


def finish(out: Path, report: Path, env: dict) -> bool:
    ok = ibench(run_args(out), env).returncode == 0
    return ok and ibench(["report", out, "-o", report], env).returncode == 0 and clean(out, report)


def random_kills(work: Path, env: dict, kills: int, rng: random.Random) -> tuple[int, int, float]:
    t0 = time.perf_counter()
    assert finish(work / "warm", work / "warm-report", env)
    span = time.perf_counter() - t0  # an uninterrupted run + report: kills fall anywhere in it
    good = 0
    for i in range(kills):
        out, report = work / f"kill{i}", work / f"kill{i}-report"
        at = rng.uniform(0.3, span)
        if rng.random() < 0.7:
            command = run_args(out)
        else:  # a report of a finished run
            shutil.copytree(work / "warm", out)
            command = ["report", out, "-o", report]
        proc = subprocess.Popen([sys.executable, "-m", "ibench", *map(str, command)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(at)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        good += finish(out, report, env)
    return good, kills, span


def injected_kills(work: Path, env: dict) -> tuple[int, int]:
    good = total = 0
    for kind, pattern, stage in INJECTED:
        for n in (1, 2):
            out, report = work / f"inj-{kind}-{pattern}-{n}".replace("*", "x"), work / f"inj-{pattern}-{n}-r".replace("*", "x")
            if stage == "report":
                assert ibench(run_args(out), env).returncode == 0
                command = ["report", out, "-o", report]
            else:
                command = run_args(out)
            result = ibench(command, env, (kind, n, pattern))
            total += 1
            if result.returncode != -signal.SIGKILL:
                print(f"    {kind} {pattern} #{n}: the fault did not fire (exit {result.returncode})")
            good += finish(out, report, env)
    return good, total


def races(work: Path, rounds: int) -> tuple[int, int, int]:
    one_set = both_first = 0
    refused = 0
    for i in range(rounds):
        env = environment(work / f"race-cache-{i}")  # empty: the first runs race on the cache entries too
        same, other = work / f"race{i}", work / f"race{i}-other"
        procs = [subprocess.Popen([sys.executable, "-m", "ibench", *map(str, run_args(o))], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for o in (same, same, other)]
        results = [(p.wait(), p.stderr.read()) for p in procs]
        refused += sum(code == 2 and "in use by another ibench process" in err for code, err in results[:2])
        (run,) = same.iterdir()
        lines = (run / "generations.jsonl").read_text().splitlines()
        one_set += len(lines) == N * K and any(code == 0 for code, _ in results[:2])
        both_first += results[2][0] == 0 and any(code == 0 for code, _ in results[:2])
    return one_set, both_first, refused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--races", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    env = environment(work / "cache")
    good, kills, span = random_kills(work, env, args.kills, random.Random(args.seed))
    print(f"random SIGKILL (run or report, at U(0.3, {span:.0f}) s): {good}/{kills} reruns complete and clean")
    good, total = injected_kills(work, env)
    print(f"SIGKILL inside a write (image, record, scores, results, index.html, table; 1st and 2nd): "
          f"{good}/{total} reruns complete and clean")
    one_set, both_first, refused = races(work, args.races)
    print(f"two runs on one run dir at once: {one_set}/{args.races} rounds with exactly one set of "
          f"{N * K} records ({refused} second processes refused in one line, the others found the work done)")
    print(f"a third first run on the same empty cache: {both_first}/{args.races} rounds with every first run done")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
