"""Number and table formatting shared by reports, checks and comparisons (markdown and plain text)."""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Optional, Sequence

import pandas as pd

from ibench.core.jsonio import json_safe


def records(df: Optional[pd.DataFrame]) -> list[dict]:
    """A table's rows as JSON-safe dicts (NaN -> None); none for a missing or empty table."""
    return [] if df is None or df.empty else json_safe(df.to_dict("records"))


def fmt(x: Any, digits: int = 3) -> str:
    """A number to ``digits`` decimals (``—`` for missing); other values as text."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "—"
    if v != 0 and (abs(v) >= 1e4 or abs(v) < 10 ** -digits):
        return f"{v:.{digits}g}"
    return f"{v:.{digits}f}"


def fmt_ci(mean: Any, low: Any, high: Any, digits: int = 3) -> str:
    """``0.512 [0.48, 0.54]``; the bracket is dropped when the interval is missing."""
    if low is None or high is None or _nan(low) or _nan(high):
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def fmt_delta(delta: Any, low: Any, high: Any, digits: int = 3) -> str:
    """A signed difference with its CI: ``-0.021 [-0.03, -0.01]``."""
    if delta is None or _nan(delta):
        return "—"
    sign = "+" if float(delta) > 0 else ""
    if low is None or high is None or _nan(low) or _nan(high):
        return f"{sign}{fmt(delta, digits)}"
    return f"{sign}{fmt(delta, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def _nan(x: Any) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


_NUMERIC = re.compile(r"^\**[-+]?(\d|—)")


def md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured markdown table; cells are used as given (format them first)."""
    rows = [[md_escape(c) for c in r] for r in rows]
    align = align or [("r" if rows and all(_NUMERIC.match(r[i]) for r in rows) else "l") for i in range(len(headers))]
    rule = ["---:" if a == "r" else ":---:" if a == "c" else "---" for a in align]
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
