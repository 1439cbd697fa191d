"""The api adapter's throughput at concurrency 8 vs 1, through the runner, against the loopback fake OpenAI
server answering each request after a fixed latency (default 300 ms). Goal: >= 6x.

The fake server runs in its own process, as a provider's would: parsing multi-megabyte multipart
bodies in the benchmark's own process would hold its GIL and measure the fake, not the adapter
(``--in-process`` keeps it there, to see that cost).

    python benchmarks/bench_api.py [-n 96] [--latency 0.3] [--provider openai|gemini]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _serve(latency: float, conn, stop) -> None:
    from fake_api import FakeAPI

    with FakeAPI(latency=latency) as api:
        conn.send(api.url)
        stop.wait()


@contextlib.contextmanager
def fake_server(latency: float, in_process: bool):
    """The loopback fake's base URL, served by this process or by a child process."""
    if in_process:
        from fake_api import FakeAPI

        with FakeAPI(latency=latency) as api:
            yield api.url
        return
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    stop = ctx.Event()
    proc = ctx.Process(target=_serve, args=(latency, child, stop), daemon=True)
    proc.start()
    try:
        yield parent.recv()
    finally:
        stop.set()
        proc.join(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--requests", type=int, default=96)
    ap.add_argument("--latency", type=float, default=0.3)
    ap.add_argument("--provider", default="openai", choices=["openai", "gemini"])
    ap.add_argument("--task", default="txt2img", help="txt2img: requests only; style_subject: with 2 reference images each")
    ap.add_argument("--in-process", action="store_true", help="serve the fake from this process (GIL shared)")
    args = ap.parse_args()

    from ibench.core.registry import get_task
    from ibench.data import resolve_data_root
    from ibench.models import get_model
    from ibench.run import GenerateOptions, generate

    os.environ["IBENCH_BENCH_KEY"] = "bench-fake-key"
    shared = ROOT.parent / "shared" / "data"
    root = resolve_data_root(str(shared) if (shared / "dreambench").is_dir() else "synthetic")
    spec = get_task(args.task)
    samples = 2
    limit = args.requests // samples
    times = {}
    with fake_server(args.latency, args.in_process) as base, tempfile.TemporaryDirectory() as tmp:
        for conc in (1, 8):
            url = base + ("/v1" if args.provider == "openai" else "")
            model = get_model("api", provider=args.provider, base_url=url, api_key_env="IBENCH_BENCH_KEY",
                              cache_dir=f"{tmp}/cache-{conc}", concurrency=conc)
            t0 = time.perf_counter()
            _, counts = generate(spec, model, root, GenerateOptions(out=Path(tmp) / f"runs-{conc}", limit=limit,
                                                                     samples=samples, batch_size=8, progress=False))
            times[conc] = time.perf_counter() - t0
            assert counts["generated"] == limit * samples, counts
    n = limit * samples
    print(f"api ({args.provider}) on {args.task} via the runner: {n} requests, fake server latency "
          f"{args.latency * 1000:.0f} ms, batch 8, fake server {'in this' if args.in_process else 'in its own'} process")
    for conc, t in times.items():
        print(f"  concurrency {conc}: {t:6.2f} s  {n / t:6.2f} img/s")
    print(f"throughput ratio concurrency 8 / 1: {times[1] / times[8]:.2f}x (goal >= 6x)")


if __name__ == "__main__":
    main()
