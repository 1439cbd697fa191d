"""What each model's weights are: status, licence, size and the GPU memory each placement needs.

The entries live in ``catalog_data`` (every preset, every adapter's default weights, every shipped
config, the judges, the API models), each fact with the page it was read from. A memory figure is
the model card's when the card states one (``Figure.source`` is its URL); otherwise it is an estimate
from the parameter counts, labelled ``estimate: ...`` with the rule: bf16/fp16 weights are 2 bytes a
parameter, bitsandbytes 8-bit ~1 and 4-bit (NF4) ~0.55; no offload holds every part on the GPU,
model offload the largest part at a time, sequential offload one layer at a time; plus the working
memory (``activations_gb``) at the adapter's default size. The quantized placements (``8bit``,
``4bit``) quantize the parts marked ``quantize`` and offload the parts in turn, as Black Forest
Labs' FLUX.2 diffusers guide runs them. ``ibench list models|configs`` and docs/models.md show it.
"""

from __future__ import annotations

from typing import Any, Optional

from ibench.errors import IbenchError

from .catalog_data import API_MODELS, WEIGHTS
from .catalog_types import CHECKED, PLACEMENTS, APIModel, Figure, Part, Weights, combined, need

__all__ = ["CHECKED", "PLACEMENTS", "APIModel", "Figure", "Part", "Weights", "api_model", "combined", "entries_for",
           "gated_hint", "lookup", "markdown", "need", "refuse_unreleased", "weight_ids"]

def lookup(model_id: Optional[str]) -> Optional[Weights]:
    return WEIGHTS.get(model_id or "")


def api_model(model_id: Optional[str]) -> Optional[APIModel]:
    return API_MODELS.get(model_id or "")


def weight_ids(cls: type, settings: Any) -> dict[str, str]:
    """``{setting: hub id or path}`` of every weight an adapter class loads with ``settings`` (parsed)."""
    wanted = {key: str(value[0]) for key, value in cls.weights(settings).items()}
    from .settings import DiffusersSettings

    if wanted or not isinstance(settings, DiffusersSettings):  # api, folder, tiny: no hub weights
        return wanted
    given = settings.model_dump()
    for key in ("model", "controlnet"):
        if isinstance(given.get(key), str) and given[key]:
            wanted[key] = given[key]
    if given.get("preset") and "model" not in wanted:
        from .multiref_presets import PRESETS

        wanted["model"] = PRESETS[given["preset"]].model
    return wanted


def entries_for(cls: type, settings: Any) -> list[Weights]:
    """The catalog entries of what an adapter loads; a multiref model outside the catalog (a local copy,
    a fine-tune) is sized as its preset's family."""
    ids = weight_ids(cls, settings)
    found = [e for e in map(lookup, ids.values()) if e is not None]
    preset = getattr(settings, "preset", None)
    if not found and preset:
        from .multiref_presets import PRESETS

        family = lookup(PRESETS[preset].model)
        found = [family] if family else []
    return found


def refuse_unreleased(model_id: Optional[str], what: str) -> None:
    """One line (exit 2) for weights their makers have not published."""
    entry = lookup(model_id)
    if entry is not None and entry.status == "unreleased":
        raise IbenchError(f"{what}: the weights of {entry.id} are not released ({entry.note or entry.card}; "
                          f"checked {CHECKED}): choose another preset (`ibench list models`)")


def gated_hint(model_id: str) -> str:
    """What to do for a gated repo (empty for any other)."""
    entry = lookup(model_id)
    if entry is None or entry.status != "gated":
        return ""
    return (f"{model_id} is gated: accept its licence at {entry.licence_url} with your Hugging Face account, "
            f"then log in here (`hf auth login`, or set HF_TOKEN)")


def markdown() -> str:
    """docs/models.md's tables (weights, API models, shutdowns), generated from the catalog."""
    from ibench.core import deprecations

    def mem(e: Weights) -> str:
        return " / ".join((f.text() if f else "—") for f in (e.memory(p) for p in PLACEMENTS))

    def src(e: Weights) -> str:
        urls = dict.fromkeys([e.card, *(f.source for f in e.card_memory.values())])
        return " ".join(f"[{n}]({u})" for n, u in enumerate(urls, 1))

    lines = [f"Checked {CHECKED}. GPU memory per placement: no offload / model offload / sequential offload / "
             "8-bit / 4-bit; \"(card)\" marks the model card's own figure, the others are estimates "
             "(ibench/models/catalog.py states the rule).", "",
             "| weights | status | licence | parameters | bf16 size | GPU memory | sources |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for e in WEIGHTS.values():
        parts = " + ".join(f"{p.name} {p.params_b:g}B" for p in e.parts)
        lines.append(f"| `{e.id}` | {e.status} | [{e.licence}]({e.licence_url}) | {parts} | "
                     f"~{e.weights_gb().gb:g} GB | {mem(e)} | {src(e)} |")
    lines += ["", "| API model | provider | status | source |", "| --- | --- | --- | --- |"]
    lines += [f"| `{m.id}` | {m.provider} | public ({m.note}) | [source]({m.source}) |" for m in API_MODELS.values()]
    lines += ["", f"Shutdowns (`ibench/core/deprecations.py`; a run warns from {deprecations.WARN_DAYS} days before, "
              "and refuses after):", "", "| model | provider | shut down | successor | source |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{r.model}` | {r.provider} | {r.date} | `{r.successor}`{' (' + r.note + ')' if r.note else ''} | "
              f"[source]({r.source}) |" for r in sorted(deprecations.TABLE.values(), key=lambda r: (r.date, r.model))]
    return "\n".join(lines) + "\n"
