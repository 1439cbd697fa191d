"""GPU memory of each placement, measured: does the catalog's rule hold, and do the placements run?

Builds a FLUX.2 [klein] 4B-shaped pipeline with random weights at real size (benchmarks/bench_gpu_multiref.py:
Qwen3-4B-sized text encoder, the klein transformer and VAE), then loads it through the ``multiref`` adapter with
each placement (no offload, model offload, 8-bit and 4-bit through bitsandbytes with model offload, sequential
offload), makes one image, and prints the peak ``torch.cuda.max_memory_allocated`` next to the catalog's figure
for that placement, the load and generation seconds, and the class of the transformer's linear layers (so a
quantized load is seen to be quantized). First it prints what ``offload: auto`` picks on this GPU for every
catalog entry, from ``torch.cuda.mem_get_info``.

    python benchmarks/bench_placement.py [--size 1024] [--steps 2] [--folder DIR]

Exits with status 2 and one line when no CUDA GPU is visible. Peaks leave out the CUDA context (~0.5 GB).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

PLACEMENTS = [("none", None), ("model", None), ("model", "8bit"), ("model", "4bit"), ("sequential", None)]


def linear_class(module) -> str:  # noqa: ANN001
    import torch

    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear) or "Linear" in type(sub).__name__:
            return type(sub).__name__
    return "-"


def auto_decisions() -> None:
    import torch

    from ibench.errors import IbenchError
    from ibench.models.catalog_data import WEIGHTS
    from ibench.models.placement import choose, gpu_free_gb

    device = torch.device("cuda:0")
    free, total = torch.cuda.mem_get_info(device)
    print(f"{torch.cuda.get_device_name(device)}: {free / 1e9:.1f} GB free of {total / 1e9:.1f} GB", flush=True)
    for entry in WEIGHTS.values():
        try:
            decision = choose([entry], "auto", None, gpu_free_gb(device), entry.id).describe()
        except IbenchError as exc:
            decision = f"refused: {exc}"
        print(f"  auto  {entry.id:45s} {decision}", flush=True)


def measure(folder: Path, size: int, steps: int) -> None:
    import torch

    from ibench.models import get_model
    from ibench.models.catalog_data import WEIGHTS

    klein = WEIGHTS["black-forest-labs/FLUX.2-klein-4B"]
    print(f"\nplacement          catalog     peak alloc  load s  gen s  transformer linears ({size}px, {steps} steps)")
    for offload, quantize in PLACEMENTS:
        key = quantize or offload
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:
            t0 = time.perf_counter()
            model = get_model("multiref", preset="flux2-klein", model=str(folder), offload=offload, quantize=quantize,
                              size=size, steps=steps, device="cuda:0")
            t1 = time.perf_counter()
            image = model._call(["a red apple on a wooden table, soft window light"], None, [0])[0]
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            peak = torch.cuda.max_memory_allocated() / 1e9
            kind = linear_class(model.pipe.transformer)
            print(f"{key:18s} ~{klein.memory(key).gb:5.1f} GB  {peak:6.1f} GB  {t1 - t0:6.1f}  {t2 - t1:5.1f}  {kind} "
                  f"({model.placement.describe()}; image {image.size})", flush=True)
            model.close()
            del model
        except Exception as exc:  # noqa: BLE001 - report each placement, go on with the next
            print(f"{key:18s} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--folder", type=Path, default=None, help="where to save the pipeline (default: a temp dir)")
    args = ap.parse_args()
    from bench_gpu import require_cuda

    require_cuda("bench_placement.py")
    auto_decisions()
    from bench_gpu_multiref import build_klein_shaped

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folder = build_klein_shaped(args.folder or Path(tmp) / "klein")
        print(f"\nbuilt and saved the klein-shaped pipeline in {time.perf_counter() - t0:.0f} s", flush=True)
        measure(folder, args.size, args.steps)


if __name__ == "__main__":
    main()
