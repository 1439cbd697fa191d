"""Progress on stderr: a tqdm bar on a terminal, plain lines elsewhere (CI logs, files, pipes).

A bar redrawn with carriage returns turns a CI log into one unreadable line; off a terminal the same
progress is a line every ``LINE_EVERY`` seconds (and a last one at the end): ``name: 12/40 img
(30%), 2.1 img/s``.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Optional

LINE_EVERY = 10.0  # seconds between plain progress lines


class LineProgress:
    """The tqdm methods the stages use (``update``, ``close``), printed as plain lines."""

    def __init__(self, total: int, desc: str, unit: str, stream: IO[str], every: float = LINE_EVERY):
        self.total, self.desc, self.unit, self.stream, self.every = total, desc, unit, stream, every
        self.n, self.start = 0, time.monotonic()
        self.last = self.start
        self.closed = False

    def _line(self) -> None:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}{share}, {self.n / elapsed:.2g} {self.unit}/s",
              file=self.stream, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every and self.n < self.total:
            self.last = now
            self._line()

    def close(self) -> None:
        if not self.closed and self.total:
            self._line()
        self.closed = True

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Off:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress(total: int, desc: str, unit: str = "img", enabled: bool = True, stream: Optional[IO[str]] = None):
    """A progress reporter for ``total`` steps: a bar on a terminal, plain lines otherwise, nothing if disabled."""
    stream = stream if stream is not None else sys.stderr
    if not enabled or total == 0:
        return _Off()
    if getattr(stream, "isatty", lambda: False)():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, file=stream)
    return LineProgress(total, desc, unit, stream)
