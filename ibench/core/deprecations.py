"""When the providers shut models down: one table for API image models and API judges.

``check(model, what)`` is called before a model is used (the ``api`` adapter, the judge config, the
preflight of ``ibench run`` and ``ibench doctor``): from ``WARN_DAYS`` days before a model's shutdown
it prints one ``warning:`` line (once per process), and on or after the shutdown date it refuses in
one line naming the successor. Every row names the provider page it was read from; the table was
checked on ``CHECKED`` (docs/models.md lists it, generated from here).
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Optional

from ibench.errors import IbenchError

CHECKED = "2026-12-05"
WARN_DAYS = 60

OPENAI = "https://developers.openai.com/api/docs/deprecations"
GEMINI = "https://ai.google.dev/gemini-api/docs/deprecations"


@dataclass(frozen=True)
class Shutdown:
    """One model id the provider turns off on ``date``; ``successor`` is what to use instead."""

    model: str
    provider: str
    date: dt.date
    successor: str
    source: str
    note: str = ""


def _rows(provider: str, source: str, date: str, successor: str, *models: str, note: str = "") -> list[Shutdown]:
    day = dt.date.fromisoformat(date)
    return [Shutdown(m, provider, day, successor, source, note) for m in models]


TABLE: dict[str, Shutdown] = {row.model: row for row in [
    # OpenAI image models; the page now recommends gpt-image-2.6-sunburst (or -flare) for the family. DALL-E 2/3
    # shut 2026-05-12 and gpt-image-1 on 2026-10-23 ("2026-04-22: Legacy GPT model snapshots"); the substitutes
    # listed then (gpt-image-1, gpt-image-1.5) were retired since. gpt-image-1.5/-1-mini: announced 2026-06-02.
    *_rows("openai", OPENAI, "2026-05-12", "gpt-image-2.6-sunburst", "dall-e-2", "dall-e-3",
           note="or gpt-image-2.6-flare"),
    *_rows("openai", OPENAI, "2026-10-23", "gpt-image-2.6-sunburst", "gpt-image-1", note="or gpt-image-2.6-flare"),
    *_rows("openai", OPENAI, "2026-12-01", "gpt-image-2.6-sunburst", "gpt-image-1-mini", "gpt-image-1.5",
           "gpt-image-1.5-2025-12-16", "chatgpt-image-latest", note="or gpt-image-2.6-flare"),
    # OpenAI chat models usable as judges: announced 2026-10-14 (GPT-4 family, the aliases with their snapshots)
    # and 2026-06-11 (GPT-5)
    *_rows("openai", OPENAI, "2027-01-14", "gpt-6-luna", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14",
           "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "gpt-4o-mini-2024-07-18", "gpt-4.1", "gpt-4o",
           note="judge preset gpt-6-luna"),
    # gpt-4o-2024-05-13 (DreamBench++'s and VIEScore's judge): "2026-04-22: Legacy GPT model snapshots", shut
    # 2026-10-23, substitute gpt-5.6-sol as the page listed it on 2026-10-15 (dev.to/importstatic, "Every OpenAI
    # model shutdown date until January 2027")
    *_rows("openai", OPENAI, "2026-10-23", "gpt-5.6-sol", "gpt-4o-2024-05-13", note="judge preset gpt-6-luna"),
    *_rows("openai", OPENAI, "2026-12-11", "gpt-6.1-sol", "gpt-5", "gpt-5-2025-08-07"),
    *_rows("openai", OPENAI, "2026-12-11", "gpt-6.1-terra", "gpt-5-mini", "gpt-5-mini-2025-08-07"),
    # Gemini image models
    *_rows("gemini", GEMINI, "2026-10-02", "gemini-3.1-flash-image", "gemini-2.5-flash-image"),
    *_rows("gemini", GEMINI, "2026-06-25", "gemini-3.1-flash-image", "gemini-3.1-flash-image-preview"),
    *_rows("gemini", GEMINI, "2026-06-25", "gemini-3-pro-image", "gemini-3-pro-image-preview"),
]}

_warned: set[str] = set()


def today() -> dt.date:
    """The date the table is read against (tests replace this function)."""
    return dt.date.today()


def lookup(model: str) -> Optional[Shutdown]:
    return TABLE.get(model)


def status(model: str, on: Optional[dt.date] = None) -> tuple[str, Optional[Shutdown]]:
    """``("retired" | "warn" | "ok", row)`` for ``model`` on ``on`` (default: today)."""
    row = TABLE.get(model)
    if row is None:
        return "ok", None
    day = on or today()
    if day >= row.date:
        return "retired", row
    if (row.date - day).days <= WARN_DAYS:
        return "warn", row
    return "ok", row


def message(model: str, what: str, on: Optional[dt.date] = None) -> Optional[str]:
    """The one line to show for ``model`` (None when it is not within ``WARN_DAYS`` of a shutdown)."""
    state, row = status(model, on)
    if row is None or state == "ok":
        return None
    also = f" ({row.note})" if row.note else ""
    if state == "retired":
        return (f"{what}: {row.provider} shut {model!r} down on {row.date} ({row.source}): use "
                f"{row.successor!r} instead{also}")
    days = (row.date - (on or today())).days
    return (f"{what}: {row.provider} shuts {model!r} down on {row.date}, in {days} days ({row.source}): "
            f"move to {row.successor!r}{also}")


def check(model: Optional[str], what: str) -> None:
    """Refuse a retired ``model``; warn once per process (one stderr line) when its shutdown is near."""
    if not model:
        return
    text = message(model, what)
    if text is None:
        return
    if status(model)[0] == "retired":
        raise IbenchError(text)
    warn_once(model, text)


def warn_once(model: str, text: str) -> None:
    """Print ``warning: text`` on stderr unless a warning about ``model`` was printed already."""
    if model not in _warned:
        _warned.add(model)
        print(f"warning: {text}", file=sys.stderr)
