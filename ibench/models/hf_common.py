"""Shared plumbing for the diffusers-backed adapters: settings, weights, device/dtype, placement, seeds.

torch is imported inside the functions: an adapter module must import in milliseconds, so that
``ibench list models`` and every error found before loading stay fast (tests/test_first_contact.py).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from ibench.errors import IbenchError
from ibench.weights import PipelineFiles, Wanted, locate_all  # noqa: F401 - the adapters' one way to local weights

if TYPE_CHECKING:
    import torch

#: dtype names -> torch dtype attribute names
DTYPES = {"fp16": "float16", "float16": "float16", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp32": "float32", "float32": "float32"}


def pick_device(device: str) -> "torch.device":
    """``auto``: this process's GPU (``LOCAL_RANK`` under torchrun/accelerate), else MPS, else the CPU."""
    import torch

    from ibench.devices import resolve_device

    return torch.device(resolve_device(device))


def pick_dtype(dtype: str, device: "torch.device", gpu_default: "str | torch.dtype" = "float16") -> "torch.dtype":
    """``auto``: ``gpu_default`` (a name or a torch dtype) on CUDA, float32 on the CPU (half precision is
    slow or unsupported there)."""
    import torch

    if dtype == "auto":
        gpu = getattr(torch, gpu_default) if isinstance(gpu_default, str) else gpu_default
        return gpu if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise IbenchError(f"dtype {dtype!r}: expected auto, {', '.join(DTYPES)}")
    return getattr(torch, DTYPES[dtype])


def quiet(pipe) -> None:
    pipe.set_progress_bar_config(disable=True)


def silence_progress() -> None:
    """No per-load / per-step progress bars from diffusers and transformers (the runner has its own)."""
    from diffusers.utils import logging as dlogging
    from transformers.utils import logging as tlogging

    dlogging.disable_progress_bar()
    tlogging.disable_progress_bar()


def device_and_dtype(options: dict, gpu_default: "str | torch.dtype" = "float16") -> "tuple[torch.device, torch.dtype]":
    """Silence the loaders' progress bars; the device and dtype that ``options`` ask for."""
    silence_progress()
    device = pick_device(options["device"])
    return device, pick_dtype(options["dtype"], device, gpu_default)


def place(pipe, device: "torch.device", offload: Any = False, compile_: bool = False, denoiser: str = "unet") -> None:
    """Move to ``device`` or enable CPU offload (``model``/``true`` or ``sequential``); optionally compile.

    Attention uses PyTorch SDPA: diffusers' default processors on torch 2 (left as they are, so
    IP-Adapter processors are never replaced).
    """
    mode = {True: "model", "true": "model", "model": "model", "sequential": "sequential"}.get(offload, None)
    if offload not in (False, None, "false", "none") and mode is None:
        raise IbenchError(f"offload {offload!r}: expected false, model or sequential")
    if mode and device.type != "cpu":
        if mode == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        else:
            pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if compile_:
        import torch

        module = getattr(pipe, denoiser)
        setattr(pipe, denoiser, torch.compile(module, mode="max-autotune-no-cudagraphs", fullgraph=False))


def generators(seeds: list[int]) -> "list[torch.Generator]":
    """One CPU generator per request: the same noise on any device, batch size or process count."""
    import torch

    return [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]


def free() -> None:
    """Release cached GPU memory (after the caller dropped its references)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_failure(what: str, ident: str, exc: BaseException) -> IbenchError:
    """One line for a component that resolved but did not load (wrong folder, missing file)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return IbenchError(f"could not load {what} from {ident!r}: {first[:300]}")
