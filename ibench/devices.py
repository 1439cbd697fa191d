"""Which torch device a command uses: ``auto`` picks the best one this process can have."""

from __future__ import annotations

import os

from ibench.errors import IbenchError


def resolve_device(device: str = "auto") -> str:
    """``auto``: this process's CUDA GPU (``LOCAL_RANK`` under torchrun/accelerate), else Apple's MPS,
    else the CPU. Any other name is checked: a device this machine lacks is one line."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        raise IbenchError(f"--device {device!r} is not a torch device (use auto, cpu, cuda, cuda:N or mps)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise IbenchError(f"--device {device}: CUDA is not available on this machine (use auto or cpu)")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise IbenchError(f"--device {device}: MPS is not available on this machine (use auto or cpu)")
    return device
