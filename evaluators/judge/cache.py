"""The verdict cache: one SQLite file in the cache dir, shared by every run and every judge.

A row is one finished verdict (a score, or a definitive failure: unparseable after the retries, a
refusal, a content-filter block) under its key: the hash of (judge identity, prompt-file hash, every
text and image sha256 of the messages, condition text included; ``prompts.verdict_key``). Re-scoring
a run, or scoring another run that shares images, asks the judge nothing it has answered. Transient
failures (timeouts, rate limits, server errors) are never stored, so the next run asks again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Optional

from ibench.core.paths import cache_dir

_CHUNK = 500


class VerdictCache:
    def __init__(self, root: Optional[Path] = None):
        folder = (root or cache_dir()) / "judge"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "verdicts.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, judge TEXT, record TEXT, "
                         "created REAL)")

    def get(self, keys: Iterable[str]) -> dict[str, dict]:
        wanted = list(dict.fromkeys(keys))
        out: dict[str, dict] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            q = f"SELECT key, record FROM verdicts WHERE key IN ({','.join('?' * len(chunk))})"
            out.update((k, json.loads(r)) for k, r in self._db.execute(q, chunk))
        return out

    def put(self, judge: str, records: dict[str, dict]) -> None:
        """Store finished verdicts (key -> record) in one transaction."""
        if not records:
            return
        now = time.time()
        rows = [(k, judge, json.dumps(r, sort_keys=True), now) for k, r in records.items()]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)", rows)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class NullCache:
    """A verdict cache that keeps nothing: every question reaches the judge (benchmarks, re-judging on purpose)."""

    def get(self, keys: Iterable[str]) -> dict[str, dict]:
        return {}

    def put(self, judge: str, records: dict[str, dict]) -> None:
        pass

    def close(self) -> None:
        pass
