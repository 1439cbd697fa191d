"""How commands print tables: rich tables on a terminal, markdown (``--format md``, the default under
``GITHUB_STEP_SUMMARY`` and in a pipe) or JSON (``--json``, or ``--format json``)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Optional, Sequence

import typer

from ibench.errors import IbenchError

FORMATS = ("table", "md", "json")
FormatOpt = typer.Option(None, "--format", help="table (rich; the default on a terminal), md (the default under "
                                               "GITHUB_STEP_SUMMARY or in a pipe) or json.")
JsonOpt = typer.Option(False, "--json", help="Print JSON (the same as --format json).")


def choose_format(fmt: Optional[str], as_json: bool = False) -> str:
    """The output format of a command from ``--format`` / ``--json`` and where it prints."""
    if as_json:
        if fmt not in (None, "json"):
            raise IbenchError(f"--json and --format {fmt} disagree: give one of them")
        return "json"
    if fmt is not None:
        if fmt not in FORMATS:
            raise IbenchError(f"--format {fmt!r}: choose table, md or json")
        return fmt
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        return "md"
    return "table" if sys.stdout.isatty() else "md"


def print_json(data: Any) -> None:
    """JSON on stdout: strict (no NaN), keys sorted, one document."""
    from ibench.core.jsonio import json_safe

    typer.echo(json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False, default=str))


def rich_table(title: Optional[str], headers: Sequence[str], rows: Sequence[Sequence[Any]],
               align: Optional[Sequence[str]] = None, styles: Optional[Sequence[Optional[str]]] = None):
    """A rich Table (cells as given; ``align`` l/r/c per column, ``styles`` one per row)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    align = align or ["l"] * len(headers)
    justify = {"l": "left", "r": "right", "c": "center"}
    for h, a in zip(headers, align):
        table.add_column(str(h), justify=justify[a], overflow="fold")
    for k, row in enumerate(rows):
        table.add_row(*[str(c) for c in row], style=styles[k] if styles else None)
    return table


def print_rich(*renderables: Any) -> None:
    from rich.console import Console

    console = Console(soft_wrap=False, highlight=False)
    for r in renderables:
        console.print(r)
