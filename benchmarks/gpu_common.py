"""What the GPU benchmarks share (``bench_gpu.py``: sd-composite, ``bench_gpu_multiref.py``: FLUX.2 klein via
multiref): the runner-vs-bare timing, the CUDA check, the printed summary. Imported by both; imports neither."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def runner_vs_bare(spec, model, root, calls: list, args) -> dict[str, float]:
    """Best times (interleaved rounds) of replaying the recorded ``(pipe, kwargs)`` calls in a bare loop and of
    ``ibench.run.generate`` making the same images into a fresh run dir."""
    import torch
    from bench_runner import interleaved

    from ibench.run import GenerateOptions, generate

    def bare():
        with torch.inference_mode():
            for pipe, kw in calls:
                kw = dict(kw)
                n = kw.pop("_seeds")
                pipe(**kw, generator=[torch.Generator().manual_seed(s) for s in range(n)])
        torch.cuda.synchronize()

    runs = iter(range(10_000))
    tmp = Path(tempfile.mkdtemp(prefix="ibench-gpu-"))

    def runner():
        generate(spec, model, root, GenerateOptions(out=tmp / f"runs{next(runs)}", limit=args.instances,
                                                    samples=args.samples, batch_size=args.batch_size, progress=False))
        torch.cuda.synchronize()

    torch.cuda.reset_peak_memory_stats()
    return interleaved({"bare": bare, "runner": runner}, args.repeats)


def require_cuda(script: str):
    """torch, or exit 2 with one line when no CUDA GPU is visible; never reaches for the hub."""
    import torch

    if not torch.cuda.is_available():
        print(f"{script}: no CUDA GPU visible (torch.cuda.is_available() is False): run this on a GPU machine",
              file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return torch


def print_times(title: str, n: int, t: dict[str, float]) -> None:
    import torch

    print(title)
    print(f"  bare diffusers loop : {n / t['bare']:6.2f} img/s  ({t['bare']:.2f} s)")
    print(f"  ibench runner       : {n / t['runner']:6.2f} img/s  ({t['runner']:.2f} s)")
    print(f"runner/bare time ratio: {t['runner'] / t['bare']:.3f} (goal <= 1.05)   peak GPU memory "
          f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
