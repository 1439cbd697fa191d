"""Retries of transient provider errors (429, 5xx, timeouts, dropped connections) with exponential backoff,
waiting what the server's ``Retry-After`` / ``retry-after-ms`` header asks for when it sends one (tenacity)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Callable, Optional, TypeVar

import tenacity

T = TypeVar("T")
MAX_WAIT = 120.0  # never wait longer than this for one retry, whatever the header says


class Transient(Exception):
    """A provider error worth retrying; ``retry_after`` is the server's requested wait (seconds) if any."""

    def __init__(self, message: str, retry_after: Optional[float] = None):
        super().__init__(message)
        self.retry_after = retry_after


def retry_after(headers) -> Optional[float]:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), else None."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            try:
                from datetime import datetime, timezone

                return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
            except (TypeError, ValueError):
                return None
    return None


def call_with_retries(fn: Callable[[], T], retries: int, backoff: float, sleep=None) -> tuple[T, int]:
    """``fn()`` retried on ``Transient`` up to ``retries`` times; returns (result, attempts)."""
    fallback = tenacity.wait_exponential_jitter(initial=backoff, max=MAX_WAIT, jitter=backoff)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_WAIT)
        return fallback(state)

    kwargs = {"sleep": sleep} if sleep else {}
    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(retries + 1), wait=wait, reraise=True,
                                 retry=tenacity.retry_if_exception_type(Transient), **kwargs)
    result = retrying(fn)
    return result, retrying.statistics.get("attempt_number", 1)
