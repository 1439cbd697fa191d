"""Where a pipeline's weights go, decided before anything loads: all on the GPU, CPU offload, quantized.

``offload: auto`` takes the fastest placement whose catalog figure fits the GPU's free memory (no
offload, else model offload, else sequential offload). It never quantizes on its own: 8-bit and 4-bit
change the pictures, so they are a setting (``quantize``) that enters the run id; when only
sequential offload fits and a quantized placement would, the decision says so. An explicit placement
that cannot fit is refused in one line naming what would. Quantization goes through diffusers'
``PipelineQuantizationConfig`` (bitsandbytes, or torchao; ``pip install 'ibench[quant]'``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ibench.errors import IbenchError

from .catalog_types import Figure, Weights, combined, need

if TYPE_CHECKING:
    import torch

OFFLOADS = {False: "none", None: "none", "false": "none", "none": "none", True: "model", "true": "model",
            "model": "model", "sequential": "sequential", "auto": "auto"}
QUANTIZE = ("8bit", "4bit")
BACKENDS = {"bitsandbytes": "bitsandbytes", "torchao": "torchao"}  # backend -> module it needs
HEADROOM_GB = 1.0  # kept free beyond a figure (CUDA context, fragmentation)


@dataclass(frozen=True)
class Decision:
    """The placement to use: ``offload`` as ``hf_common.place`` takes it, and the quantization."""

    offload: str  # none | model | sequential
    quantize: Optional[str] = None
    need: Optional[Figure] = None
    free_gb: Optional[float] = None
    note: str = ""

    def describe(self) -> str:
        what = f"offload: {self.offload}" + (f", quantize: {self.quantize}" if self.quantize else "")
        if self.need is not None:
            what += f" ({self.need.text()} of {self.free_gb:.1f} GB free)" if self.free_gb is not None else \
                f" ({self.need.text()})"
        return what + (f"; {self.note}" if self.note else "")


def offload_mode(value: Any) -> str:
    """A setting's ``offload`` as none | model | sequential | auto (one line for anything else)."""
    key = value.lower() if isinstance(value, str) else value
    if key not in OFFLOADS:
        raise IbenchError(f"offload {value!r}: expected auto, false, model or sequential")
    return OFFLOADS[key]


def gpu_free_gb(device: "torch.device") -> Optional[float]:
    """Free memory of a CUDA device in GB (1e9 bytes); None elsewhere."""
    import torch

    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return free / 1e9


def figure(entries: list[Weights], offload: str, quantize: Optional[str]) -> Optional[Figure]:
    """The GPU memory of one placement (a quantized placement offloads its parts in turn unless ``offload`` is none)."""
    if quantize:
        return combined(entries, quantize) if offload != "none" else need(entries, quantize, offload="none")
    return combined(entries, offload)


def fitting(entries: list[Weights], free_gb: float) -> list[str]:
    """The placements that fit ``free_gb``, as settings, fastest first."""
    out = []
    for offload, quantize in (("none", None), ("model", None), ("model", "8bit"), ("model", "4bit"),
                              ("sequential", None)):
        fig = figure(entries, offload, quantize)
        if fig is not None and fig.gb + HEADROOM_GB <= free_gb:
            out.append((f"quantize: {quantize}" if quantize else f"offload: {offload}") + f" ({fig.text()})")
    return out


def choose(entries: list[Weights], offload: Any, quantize: Optional[str], free_gb: Optional[float],
           what: str) -> Decision:
    """The placement for ``entries`` on a device with ``free_gb`` free (None: not a CUDA device)."""
    mode = offload_mode(offload)
    if quantize is not None and quantize not in QUANTIZE:
        raise IbenchError(f"{what}: quantize {quantize!r}: expected 8bit or 4bit")
    if free_gb is None or not entries:  # the CPU, or weights the catalog does not know: nothing to weigh
        why = "" if entries else "no catalog figures for these weights"
        return Decision("model" if mode == "auto" and quantize else ("none" if mode == "auto" else mode),
                        quantize, None, free_gb, why)
    if mode == "auto":
        order = ["model"] if quantize else ["none", "model", "sequential"]
        for candidate in order:
            fig = figure(entries, candidate, quantize)
            if fig is not None and fig.gb + HEADROOM_GB <= free_gb:
                note = ""
                if candidate == "sequential":
                    faster = [f for f in fitting(entries, free_gb) if f.startswith("quantize")]
                    note = f"slow; faster and still fitting: {faster[0]}" if faster else "slow"
                return Decision(candidate, quantize, fig, free_gb, note)
        smallest = figure(entries, order[-1], quantize)
        raise IbenchError(f"{what}: no placement fits the GPU's {free_gb:.1f} GB free (the smallest, offload: "
                          f"{order[-1]}{', quantize: ' + quantize if quantize else ''}, needs "
                          f"{smallest.text() if smallest else 'unknown'}): free GPU memory or use a larger GPU")
    fig = figure(entries, mode, quantize)
    if fig is not None and fig.gb + HEADROOM_GB > free_gb:
        chosen = f"offload: {mode}" + (f", quantize: {quantize}" if quantize else "")
        options = fitting(entries, free_gb)
        instead = f"what fits: {'; '.join(options)}" if options else "nothing fits: free GPU memory or use a larger GPU"
        raise IbenchError(f"{what}: {chosen} needs {fig.text()} of GPU memory ({fig.source}) and the GPU has "
                          f"{free_gb:.1f} GB free: {instead}")
    return Decision(mode, quantize, fig, free_gb)


def require_backend(backend: str, quantize: str) -> None:
    """One line naming the extra when the quantization library is not installed."""
    if backend not in BACKENDS:
        raise IbenchError(f"quant_backend {backend!r}: expected bitsandbytes or torchao")
    module = BACKENDS[backend]
    try:
        present = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        present = False
    if not present:
        raise IbenchError(f"quantize: {quantize} with {backend} needs the 'quant' extra ({module} not installed): "
                          f"pip install 'ibench[quant]'")


def quantization_config(entries: list[Weights], quantize: Optional[str], backend: Optional[str] = None,
                        compute_dtype: Any = None):
    """diffusers' ``PipelineQuantizationConfig`` quantizing the parts the catalog marks (None without ``quantize``)."""
    if not quantize:
        return None
    backend = backend or "bitsandbytes"
    parts = list({p.name: p for e in entries for p in e.parts if p.quantize}.values())
    if not parts:
        raise IbenchError(f"quantize: {quantize}: the catalog names no part of these weights to quantize "
                          f"(quantization is offered for the large multiref presets)")
    require_backend(backend, quantize)
    from diffusers import PipelineQuantizationConfig

    if backend == "bitsandbytes":
        kwargs: dict[str, Any] = {"load_in_8bit": True} if quantize == "8bit" else {
            "load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": compute_dtype}
        return PipelineQuantizationConfig(quant_backend=f"bitsandbytes_{quantize}", quant_kwargs=kwargs,
                                          components_to_quantize=[p.name for p in parts])
    # torchao: the diffusers and transformers config classes take different arguments, so one per part
    from diffusers import TorchAoConfig as DiffusersTorchAo
    from torchao.quantization import Int4WeightOnlyConfig, Int8WeightOnlyConfig
    from transformers import TorchAoConfig as TransformersTorchAo

    kind = Int8WeightOnlyConfig if quantize == "8bit" else Int4WeightOnlyConfig
    mapping = {p.name: (TransformersTorchAo if p.library == "transformers" else DiffusersTorchAo)(kind())
               for p in parts}
    return PipelineQuantizationConfig(quant_mapping=mapping)


def prepare(what: str, entries: list[Weights], options: dict, device: "torch.device", dtype: Any = None):
    """For an adapter about to load: (the placement ``Decision``, the quantization config or None)."""
    decision = choose(entries, options.get("offload", False), options.get("quantize"), gpu_free_gb(device), what)
    config = quantization_config(entries, decision.quantize, options.get("quant_backend"), dtype)
    return decision, config
