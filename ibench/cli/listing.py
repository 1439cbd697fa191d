"""``ibench list tasks|models|configs|packs``: what is registered, and the catalog of the models' weights."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ibench.errors import IbenchError

from .output import FormatOpt, JsonOpt, choose_format, print_json

BEGIN, END = "<!-- catalog:begin (generated: ibench list models --write-doc docs/models.md) -->", "<!-- catalog:end -->"

list_app = typer.Typer(help="List what is registered.", no_args_is_help=True)


@list_app.command("tasks")
def list_tasks(as_json: bool = JsonOpt) -> None:
    """Registered tasks with family, version and description."""
    from ibench.core.registry import all_tasks

    specs = sorted(all_tasks(), key=lambda s: (s.family, s.name))
    if as_json:
        print_json([{"name": s.name, "family": s.family, "version": s.version, "description": s.description,
                     "capabilities": sorted(s.capabilities), "metrics": list(s.metrics),
                     "set_metrics": list(s.set_metrics)} for s in specs])
        return
    for spec in specs:
        typer.echo(f"{spec.name:24s} {spec.family:10s} v{spec.version}  {spec.description}")


@list_app.command("models")
def list_models(as_json: bool = JsonOpt, fmt: Optional[str] = FormatOpt,
                write_doc: Optional[Path] = typer.Option(None, "--write-doc", hidden=True,
                                                         help="Rewrite the catalog part of this markdown file.")) -> None:
    """Registered model adapters, and the catalog of their weights: status, licence, size and GPU memory per
    placement, each with its source (`--json`; `--format md` is the table of docs/models.md)."""
    from ibench.models import catalog

    if write_doc is not None:
        _write_doc(write_doc, catalog.markdown())
        return
    form = choose_format(fmt, as_json) if (fmt or as_json) else "table"
    if form == "md":
        typer.echo(catalog.markdown(), nl=False)
        return
    rows = _model_rows()
    if form == "json":
        print_json(rows)
        return
    for row in rows:
        caps = ", ".join(row["capabilities"]) or "text only"
        typer.echo(f"{row['name']:14s} [{caps}]\n{'':14s} {row['description']}")
        for name, preset in row.get("presets", {}).items():
            typer.echo(f"{'':14s} preset {name}: {_brief(preset['weights'])}")


def _brief(w: Optional[dict]) -> str:
    if w is None:
        return "not in the catalog"
    mem = w.get("gpu_memory_gb") or {}
    figs = ", ".join(f"{k} ~{v['gb']:g} GB" for k, v in mem.items() if v)
    return f"{w['id']} ({w['status']}, {w['licence']}; {figs})"


def _model_rows() -> list[dict]:
    from ibench.models import BUILTIN, catalog, load_class
    from ibench.models.catalog_data import API_MODELS
    from ibench.models.multiref_presets import PRESETS

    rows = []
    for name, target in BUILTIN.items():
        cls = load_class(target)
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        row = {"name": name, "capabilities": sorted(cls.capabilities), "description": doc,
               "defaults": cls.default_settings()}
        try:
            settings = cls.Settings()
            row["weights"] = [catalog.lookup(i).row() if catalog.lookup(i) else {"id": i, "status": "not in the catalog"}
                              for i in catalog.weight_ids(cls, settings).values()]
        except Exception:  # noqa: BLE001 - an adapter whose settings need a value (folder: dir) has no default weights
            row["weights"] = []
        if name == "multiref":
            row["presets"] = {p: {"pipeline": pr.pipeline, "model": pr.model,
                                  "weights": catalog.lookup(pr.model).row() if catalog.lookup(pr.model) else None}
                              for p, pr in PRESETS.items()}
        if name == "api":
            row["models"] = [m.row() for m in API_MODELS.values() if m.role == "image"]
        rows.append(row)
    return rows


def _write_doc(path: Path, table: str) -> None:
    from ibench.core.jsonio import write_text_atomic

    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise IbenchError(f"{path}: no {BEGIN} ... {END} block to rewrite")
    head, rest = text.split(BEGIN, 1)
    write_text_atomic(path, head + BEGIN + "\n" + table + rest[rest.index(END):])
    typer.echo(f"wrote the catalog into {path}")


@list_app.command("configs")
def list_configs(as_json: bool = JsonOpt) -> None:
    """Model configs shipped with ibench, for `--model-config NAME`: adapter, weights, status, licence and the
    GPU memory of each placement (`--json`)."""
    from .options import packaged_configs

    rows = [_config_row(name, path) for name, path in sorted(packaged_configs().items())]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['name']:22s} {row['status']:10s} {row['description']}")


def _config_row(name: str, path: Path) -> dict:
    from ibench.core.yamlio import load_yaml
    from ibench.models import BUILTIN, catalog, load_class
    from ibench.models.catalog_data import CONFIG_ADAPTERS
    from ibench.models.settings import parse_settings

    first = next((line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
                  if line.startswith("#")), "")
    given = load_yaml(path, what="a model config", empty_ok=True) or {}
    adapter = CONFIG_ADAPTERS.get(name)
    row: dict = {"name": name, "description": first, "adapter": adapter, "settings": given}
    if adapter is None:
        return {**row, "status": "unknown", "weights": []}
    cls = load_class(BUILTIN[adapter])
    settings = parse_settings(adapter, cls.Settings, given)
    if adapter == "api":
        from ibench.models.api.providers import default_model

        model = given.get("model") or default_model(given.get("provider", "openai"))
        api = catalog.api_model(model)
        return {**row, "status": "public" if api else "unknown", "weights": [], "api_model": api.row() if api else model}
    ids = catalog.weight_ids(cls, settings)
    entries = catalog.entries_for(cls, settings)
    order = {"unreleased": 0, "gated": 1, "public": 2}
    status = min((e.status for e in entries), key=order.get, default="unknown")
    memory = {p: catalog.combined(entries, p) for p in catalog.PLACEMENTS}
    return {**row, "status": status, "offload": given.get("offload", False),
            "weights": [catalog.lookup(i).row() if catalog.lookup(i) else {"id": i, "status": "not in the catalog"}
                        for i in ids.values()],
            "licences": sorted({e.licence for e in entries}),
            "gpu_memory_gb": {p: (vars(f) if f else None) for p, f in memory.items()}}


@list_app.command("packs")
def list_packs(as_json: bool = JsonOpt) -> None:
    """Benchmark packs (DreamBench++, OmniContext, GEdit-Bench, ImagenHub: source, revision, size, licence, judge)
    and judge-data packs, for `ibench data fetch --pack NAME` (`--json`; docs/packs.md)."""
    from .packs import list_packs as show

    show(as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(list_app, name="list")
