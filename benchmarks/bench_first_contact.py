"""A new user's first commands, timed in fresh processes: listing, and how long an offline machine
(HF_HUB_OFFLINE unset) takes to say, in one line, which weights are missing.

* ``ibench list models`` / ``ibench --help``: should stay near a second (no torch import);
* ``ibench score RUN`` with the default extractors and an empty HF cache, the hub refusing the
  connection (a closed port on 127.0.0.1) or silent (a 127.0.0.1 listener that never answers: the
  probe's ``IBENCH_HUB_TIMEOUT``, 3 s, bounds it);
* ``ibench run -m sd-composite`` with hub ids that are not cached: the model's and the scorer's
  weights named together before anything loads.

    python benchmarks/bench_first_contact.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "ibench", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    return time.perf_counter() - t0, result


def median(args: list, env: dict, repeats: int) -> float:
    return statistics.median(timed(args, env)[0] for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-first-"))
    base = {**os.environ, "IBENCH_CACHE_DIR": str(work / "cache"), "HF_HOME": str(work / "hf")}
    base.pop("HF_HUB_OFFLINE", None)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refusing = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts the connection, never answers
    quiet = f"http://127.0.0.1:{silent.getsockname()[1]}"

    print(f"ibench list models: {median(['list', 'models'], base, args.repeats):.2f} s (median of {args.repeats})")
    print(f"ibench --help:      {median(['--help'], base, args.repeats):.2f} s")
    offline = {**base, "HF_HUB_OFFLINE": "1"}
    _, gen = timed(["generate", "-t", "style_subject", "-d", "synthetic", "-n", "1", "-k", "1", "-o", work / "runs"],
                   offline)
    assert gen.returncode == 0, gen.stderr[-2000:]
    run = next((work / "runs").iterdir())
    for label, endpoint in (("refusing", refusing), ("silent", quiet)):
        seconds, result = timed(["score", run], {**base, "HF_ENDPOINT": endpoint})
        line = result.stderr.strip().splitlines()[-1]
        print(f"ibench score, default extractors, hub {label}: {seconds:.2f} s to exit {result.returncode} with "
              f"one line naming {line.count('`hf download') + line.count('download http')} downloads")
    seconds, result = timed(["run", "-t", "style_subject", "-m", "sd-composite", "-a", "model=ibench-bench/sd",
                             "-d", "synthetic", "-n", "1", "-o", work / "runs2"], {**base, "HF_ENDPOINT": refusing})
    line = result.stderr.strip().splitlines()[-1]
    print(f"ibench run -m sd-composite (model + scorer weights missing): {seconds:.2f} s to exit "
          f"{result.returncode} with one line naming {line.count('`hf download') + line.count('download http')} "
          f"downloads ({line.split(' weights are')[0].removeprefix('error: ')} weights)")
    silent.close()


if __name__ == "__main__":
    main()
