"""User-facing errors: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations

import difflib


class IbenchError(Exception):
    """A problem with the user's input or environment, explained in one line."""


def one_line(message: str) -> str:
    """Collapse a message to one line (pydantic and YAML errors span several)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def unknown(what: str, name: str, known: list[str]) -> IbenchError:
    """``unknown model 'tiy'; did you mean 'tiny'? (known: ...)``"""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return IbenchError(f"unknown {what} {name!r}{hint} (known: {', '.join(sorted(known))})")
