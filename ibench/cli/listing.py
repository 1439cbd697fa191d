"""``ibench list tasks|models``: what is registered."""

from __future__ import annotations

import sys

import typer

from .output import JsonOpt, print_json

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
def list_models(as_json: bool = JsonOpt) -> None:
    """Registered model adapters and the reference kinds they can use."""
    from ibench.models import BUILTIN, load_class

    rows = []
    for name, target in BUILTIN.items():
        cls = load_class(target)
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        rows.append({"name": name, "capabilities": sorted(cls.capabilities), "description": doc,
                     "defaults": cls.default_settings()})
    if as_json:
        print_json(rows)
        return
    for row in rows:
        caps = ", ".join(row["capabilities"]) or "text only"
        typer.echo(f"{row['name']:14s} [{caps}]\n{'':14s} {row['description']}")


def register(app: typer.Typer) -> None:
    app.add_typer(list_app, name="list")
