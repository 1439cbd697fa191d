"""The catalog's record types and its memory rule (``ibench.models.catalog`` states the rule in words)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ibench.errors import IbenchError

CHECKED = "2026-12-05"  # when every status below was last read from its source
PLACEMENTS = ("none", "model", "sequential", "8bit", "4bit")
BYTES = {"none": 2.0, "8bit": 1.0, "4bit": 0.55}  # per parameter
SEQUENTIAL_GB = 1.0  # one layer at a time on the GPU (estimate)


@dataclass(frozen=True)
class Part:
    """One component of a pipeline (``name`` as the diffusers pipeline calls it)."""

    name: str
    params_b: float  # billions of parameters
    quantize: bool = False  # quantized in the 8bit/4bit placements
    library: str = "diffusers"  # diffusers | transformers (which quantization config class it takes)


@dataclass(frozen=True)
class Figure:
    """A number of GB and where it comes from: a URL (model card, guide) or ``estimate: <rule>``."""

    gb: float
    source: str

    def text(self) -> str:
        return f"~{self.gb:g} GB" + ("" if self.source.startswith("estimate") else " (card)")


@dataclass(frozen=True)
class Weights:
    """One hub repo an adapter loads."""

    id: str
    title: str
    status: str  # public | gated | unreleased
    licence: str
    licence_url: str
    card: str  # where the parameter counts and the licence were read
    parts: tuple[Part, ...]
    activations_gb: float = 2.0  # working memory at the adapter's default size (estimate)
    card_memory: dict[str, Figure] = field(default_factory=dict)  # figures the card states
    download: Optional[Figure] = None  # bytes on the hub, where the file listing was read
    note: str = ""

    @property
    def params_b(self) -> float:
        return round(sum(p.params_b for p in self.parts), 2)

    def weights_gb(self) -> Figure:
        return Figure(round(self.params_b * BYTES["none"], 1), "estimate: parameters x 2 bytes (bf16/fp16)")

    def memory(self, placement: str) -> Optional[Figure]:
        """GPU memory for ``placement`` (None: the placement does not apply, e.g. 4-bit of a small model)."""
        if placement in self.card_memory:
            return self.card_memory[placement]
        return need([self], placement)

    def row(self) -> dict[str, Any]:
        """The entry as JSON: every figure with its source."""
        mem = {p: self.memory(p) for p in PLACEMENTS}
        return {"id": self.id, "title": self.title, "status": self.status, "licence": self.licence,
                "licence_url": self.licence_url, "source": self.card, "checked": CHECKED, "note": self.note,
                "params_b": self.params_b, "parts": {p.name: p.params_b for p in self.parts},
                "weights_gb": vars(self.weights_gb()), "download_gb": vars(self.download) if self.download else None,
                "gpu_memory_gb": {p: (vars(f) if f else None) for p, f in mem.items()}}


@dataclass(frozen=True)
class APIModel:
    """A model behind a provider's API: nothing to download, no GPU memory here."""

    id: str
    provider: str
    title: str
    terms_url: str
    source: str
    note: str = ""
    role: str = "image"  # image | judge

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "role": self.role, "title": self.title, "status": "public",
                "licence": f"{self.provider} terms", "licence_url": self.terms_url, "source": self.source,
                "checked": CHECKED, "note": self.note, "gpu_memory_gb": None}


def need(entries: list[Weights], placement: str, offload: str = "model") -> Optional[Figure]:
    """Estimated GPU memory of loading ``entries`` together with ``placement`` (the rule of the module doc).

    With a quantized placement, ``offload`` says how the quantized parts are placed (``model``: in
    turn, as the published figures; ``none``: all at once)."""
    parts = [p for e in entries for p in e.parts]
    if not parts:
        return None
    act = max(e.activations_gb for e in entries)
    if placement in ("8bit", "4bit"):
        if not any(p.quantize for p in parts):
            return None
        sizes = [p.params_b * (BYTES[placement] if p.quantize else BYTES["none"]) for p in parts]
        how = "all parts at once" if offload == "none" else "the largest part at a time"
        total = sum(sizes) if offload == "none" else max(sizes)
        rule = f"estimate: quantized parts x {BYTES[placement]} bytes/param, {how}, + {act:g} GB working memory"
        return Figure(round(total + act, 1), rule)
    sizes = [p.params_b * BYTES["none"] for p in parts]
    if placement == "none":
        return Figure(round(sum(sizes) + act, 1), f"estimate: every part in bf16 + {act:g} GB working memory")
    if placement == "model":
        return Figure(round(max(sizes) + act, 1), f"estimate: the largest part in bf16 + {act:g} GB working memory")
    if placement == "sequential":  # never more than model offload (a small model's largest part is under a GB)
        return Figure(round(min(SEQUENTIAL_GB, max(sizes)) + act, 1),
                      f"estimate: one layer at a time + {act:g} GB working memory")
    raise IbenchError(f"placement {placement!r}: expected one of {', '.join(PLACEMENTS)}")


def combined(entries: list[Weights], placement: str) -> Optional[Figure]:
    """A card's figure when one entry is loaded alone, else the estimate over all of them."""
    if len(entries) == 1:
        return entries[0].memory(placement)
    return need(entries, placement)
