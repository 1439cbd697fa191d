"""Runner overhead vs bare diffusers calls, on tiny random models (CPU is fine).

Three timings over the same samples, in one process, best of ``--repeats`` interleaved rounds:

* bare    - the exact diffusers pipeline calls the adapter made (recorded once, replayed with fresh
            generators): what a hand-written loop with pre-made inputs costs;
* adapter - ``model.generate`` on the same requests (adds decoding references, IP-Adapter image
            embeddings, control maps);
* runner  - ``ibench.runner.generate`` into a fresh run dir (adds planning, PNG writes, sha256,
            fsync'd JSONL records).

Prints runner/bare (the headline ratio; goal <= 1.05) and runner/adapter (the runner alone).

    python benchmarks/bench_runner.py [--model sd-composite|tiny] [--task style_subject] [-n 4] [-b 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402

from ibench.data import build_instances  # noqa: E402
from ibench.models import get_model  # noqa: E402
from ibench.models.base import Request  # noqa: E402
from ibench.core.paths import DataRoot  # noqa: E402
from ibench.core.registry import get_task  # noqa: E402
from ibench.run import GenerateOptions, generate
from ibench.run.runner import sample_seed  # noqa: E402


def make_model(name: str, weights: Path, size: int, steps: int):
    if name == "sd-composite":
        from tiny_pipelines import tiny_composite_config

        return get_model(name, **{**tiny_composite_config(weights), "size": size, "steps": steps})
    return get_model(name, size=size, steps=steps)


class Recorder:
    """Wraps a pipeline: records every call's kwargs (generators excluded) and passes it on."""

    def __init__(self, pipe):
        self.pipe, self.calls = pipe, []

    def __call__(self, **kw):
        self.calls.append({k: v for k, v in kw.items() if k != "generator"} | {"_seeds": len(kw["generator"])})
        return self.pipe(**kw)


def interleaved(fns: dict, repeats: int) -> dict[str, float]:
    """Best time of each function, rounds interleaved so load from other processes hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sd-composite", choices=["sd-composite", "tiny"])
    ap.add_argument("--task", default="style_subject")
    ap.add_argument("-n", "--instances", type=int, default=4)
    ap.add_argument("-k", "--samples", type=int, default=2)
    ap.add_argument("-b", "--batch-size", type=int, default=4)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tmp = Path(tempfile.mkdtemp(prefix="ibench-bench-"))
    os.environ.setdefault("IBENCH_CACHE_DIR", str(tmp / "cache"))
    root = DataRoot(args.data_dir, derived_dir=tmp / "derived")
    spec = get_task(args.task)
    instances = build_instances(spec, root, count=args.instances)  # also makes control maps (not timed)
    requests = [Request(i, k, sample_seed(0, i.id, k), root) for i in instances for k in range(args.samples)]
    batches = [requests[s:s + args.batch_size] for s in range(0, len(requests), args.batch_size)]

    model = make_model(args.model, tmp / "weights", args.size, args.steps)
    model.close = lambda: None  # keep the pipeline loaded across the repeats of the runner
    attr = "pipe" if hasattr(model, "pipe") else "base"
    pipes = [model.pipe] if attr == "pipe" else []

    def adapter_loop():
        for batch in batches:
            model.generate(batch)

    # record the adapter's diffusers calls once (warm-up), then replay them bare
    if attr == "pipe":
        rec = Recorder(model.pipe)
        model.pipe = rec
        adapter_loop()
        model.pipe = pipes[0]
        calls, target = rec.calls, pipes[0]
    else:
        adapter_loop()  # builds every derived pipeline once
        recs = {key: Recorder(p) for key, p in model._pipes.items()}
        originals = dict(model._pipes)
        model._pipes.update(recs)
        adapter_loop()
        model._pipes.update(originals)
        calls = [(originals[key], c) for key, r in recs.items() for c in r.calls]
        target = None

    def bare_loop():
        with torch.inference_mode():
            for item in calls:
                pipe, kw = item if target is None else (target, item)
                kw = dict(kw)
                n = kw.pop("_seeds")
                pipe(**kw, generator=[torch.Generator().manual_seed(s) for s in range(n)])

    runs = iter(range(10_000))

    def runner_loop():
        generate(spec, model, root, GenerateOptions(out=tmp / f"runs{next(runs)}", limit=args.instances, samples=args.samples,
                 batch_size=args.batch_size, progress=False))

    t = interleaved({"bare": bare_loop, "adapter": adapter_loop, "runner": runner_loop}, args.repeats)
    t_bare, t_adapter, t_runner = t["bare"], t["adapter"], t["runner"]
    n = len(requests)
    print(f"{args.model} on {args.task}: {n} images, batch {args.batch_size}, {args.size}px, {args.steps} steps, "
          f"{args.threads} thread(s), best of {args.repeats} interleaved rounds")
    print(f"  bare diffusers calls : {t_bare:7.3f} s  ({t_bare / n * 1000:6.1f} ms/img)")
    print(f"  adapter.generate     : {t_adapter:7.3f} s  ({t_adapter / n * 1000:6.1f} ms/img)")
    print(f"  runner (ibench)      : {t_runner:7.3f} s  ({t_runner / n * 1000:6.1f} ms/img)")
    print(f"runner/bare ratio: {t_runner / t_bare:.3f}   (goal <= 1.05)")
    print(f"runner/adapter ratio: {t_runner / t_adapter:.3f}   (planning, PNG + record writes only)")


if __name__ == "__main__":
    main()
