"""The one rule that names a run's model in every output (studies, admin, stats, exports, reports,
compare, check): the model's name plus only the settings that differ.

1. A run's own label: its adapter name (or its ``label`` setting, the name a user gave images made
   elsewhere) and the settings that differ from the adapter's defaults (``tiny(steps=8)``). The
   defaults are recorded in the manifest when the run is made (``Manifest.model_defaults``); a run
   made before that shows its adapter name alone.
2. Where runs of one task would still share a label, each adds what tells them apart, in this
   order: the settings that differ between them, then ``seed``, then the data fingerprint, then the
   run id's last 6 characters (``tiny(seed=1)``).

The label of a run therefore depends on the runs shown beside it only when step 1 would make two of
them look the same; one set of runs gets the same labels in every output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from .manifest import Manifest

NAME_SETTING = "label"


@dataclass(frozen=True)
class LabelKey:
    """What a label is made of (read from a run's manifest)."""

    run_id: str
    task: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    defaults: Optional[dict[str, Any]] = None  # None: unknown (a run made before defaults were recorded)
    seed: int = 0
    data: str = ""

    @classmethod
    def of(cls, manifest: Manifest) -> "LabelKey":
        ident = manifest.identity
        return cls(manifest.run_id, ident.task, ident.model, dict(ident.model_settings), manifest.model_defaults,
                   ident.seed, ident.data)


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, separators=(",", ":")) if isinstance(v, (dict, list)) else str(v)


def _with(name: str, parts: Sequence[tuple[str, Any]]) -> str:
    return f"{name}({', '.join(f'{k}={_value(v)}' for k, v in parts)})" if parts else name


def _own(key: LabelKey) -> tuple[str, list[tuple[str, Any]]]:
    if key.settings.get(NAME_SETTING):
        return str(key.settings[NAME_SETTING]), []
    if key.defaults is None:
        return key.model, []
    return key.model, [(k, v) for k, v in sorted(key.settings.items()) if k not in key.defaults
                       or key.defaults[k] != v]


def own_label(key: LabelKey) -> str:
    """Step 1: the model's name and the settings that differ from its defaults."""
    return _with(*_own(key))


def _unique(rendered: Sequence[str]) -> bool:
    return len(set(rendered)) == len(rendered)


def labels(keys: Iterable[LabelKey]) -> dict[str, str]:
    """run id -> label for a set of runs (the rule in the module docstring)."""
    keys = list({k.run_id: k for k in keys}.values())
    parts = {k.run_id: _own(k) for k in keys}
    groups: dict[tuple[str, str], list[LabelKey]] = {}
    for k in keys:
        groups.setdefault((k.task, _with(*parts[k.run_id])), []).append(k)
    for same in groups.values():
        if len(same) < 2:
            continue
        shown = lambda k: {n for n, _ in parts[k.run_id][1]}  # noqa: E731
        names = sorted({n for k in same for n in k.settings})
        differ = [n for n in names if len({_value(k.settings.get(n)) for k in same}) > 1]
        steps = [[(n, lambda k, n=n: k.settings.get(n)) for n in differ],
                 [("seed", lambda k: k.seed)], [("data", lambda k: k.data[:8])]]
        for step in steps:
            if _unique([_with(*parts[k.run_id]) for k in same]):
                break
            for n, get in step:
                if len({_value(get(k)) for k in same}) > 1:
                    for k in same:
                        if n not in shown(k):
                            parts[k.run_id][1].append((n, get(k)))
        if not _unique([_with(*parts[k.run_id]) for k in same]):
            for k in same:
                parts[k.run_id] = (f"{_with(*parts[k.run_id])}@{k.run_id[-6:]}", [])
    return {rid: _with(*p) for rid, p in parts.items()}
