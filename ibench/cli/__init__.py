"""The ``ibench`` command line: one module per command group, each with ``register(app)``."""

from __future__ import annotations

import importlib
import sys
from typing import Optional

import typer

from ibench.errors import IbenchError, one_line

#: ``-h`` and ``--help`` on every command (sub-apps are made with this too).
HELP = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(help="ibench: evaluate image generation from multi-modal instructions.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, context_settings=HELP)


def _version(value: bool) -> None:
    if value:
        from ibench import __version__

        typer.echo(f"ibench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the ibench version and exit.")) -> None:
    """ibench: evaluate image generation from multi-modal instructions."""

#: Modules that add commands (each has ``register(app)``), in help order.
COMMAND_MODULES = ["ibench.cli.run", "ibench.cli.doctor", "ibench.cli.score", "ibench.cli.report", "ibench.cli.listing",
                   "ibench.cli.data", "ibench.cli.human", "ibench.cli.judge"]

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def load_plugins() -> None:
    """Import the modules named in ``IBENCH_PLUGINS`` (comma-separated): they register models, metrics,
    metric kinds, extractors, judge backends and report sections before any command runs
    (docs/extending.md). The current directory is importable, as under ``python -m`` (the installed
    ``ibench`` script's own folder is what Python puts first on ``sys.path`` otherwise)."""
    import os

    names = [n for n in (n.strip() for n in os.environ.get("IBENCH_PLUGINS", "").split(",")) if n]
    if names and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise IbenchError(f"IBENCH_PLUGINS: cannot import {name!r} ({exc})") from None


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: user errors print one line and exit 2; nothing else is swallowed."""
    try:
        load_plugins()
        code = app(args=argv, standalone_mode=False)  # click returns Exit codes in this mode
        if code == 130:  # typer turns Ctrl-C into Exit(130)
            typer.echo("interrupted; rerun the same command to resume", err=True)
        if isinstance(code, int) and code:
            sys.exit(code)
    except IbenchError as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors (click's own classes, or typer's vendored copy)
        usage, abort = _click_classes()
        if isinstance(exc, usage):
            if type(exc).__name__ == "NoArgsIsHelpError":  # `ibench` / `ibench list` alone: the help, exit 0
                exc.show()
                sys.exit(0)
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                typer.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        if isinstance(exc, abort):
            sys.exit(1)
        raise


def _click_classes() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """ClickException and Abort classes: typer >= 0.20 vendors click as ``typer._click``."""
    usage: list[type] = []
    abort: list[type] = []
    for name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        usage += [c for c in (getattr(module, "ClickException", None),) if isinstance(c, type)]
        abort += [c for c in (getattr(module, "Abort", None),) if isinstance(c, type)]
    return tuple(usage), tuple(abort)


if __name__ == "__main__":
    main()
