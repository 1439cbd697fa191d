"""``ibench list tasks|models``: what is registered."""

from __future__ import annotations

import sys

import typer

list_app = typer.Typer(help="List what is registered.", no_args_is_help=True)


@list_app.command("tasks")
def list_tasks() -> None:
    """Registered tasks with family, version and description."""
    from ibench.core.registry import all_tasks

    for spec in sorted(all_tasks(), key=lambda s: (s.family, s.name)):
        typer.echo(f"{spec.name:24s} {spec.family:10s} v{spec.version}  {spec.description}")


@list_app.command("models")
def list_models() -> None:
    """Registered model adapters and the reference kinds they can use."""
    from ibench.models import BUILTIN, load_class

    for name, target in BUILTIN.items():
        cls = load_class(target)
        caps = ", ".join(sorted(cls.capabilities)) or "text only"
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        typer.echo(f"{name:14s} [{caps}]\n{'':14s} {doc}")


@list_app.command("configs")
def list_configs() -> None:
    """Model configs shipped with ibench, for `--model-config NAME`."""
    from .options import packaged_configs

    for name, path in sorted(packaged_configs().items()):
        first = next((line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
                      if line.startswith("#")), "")
        typer.echo(f"{name:18s} {first}")


def register(app: typer.Typer) -> None:
    app.add_typer(list_app, name="list")
