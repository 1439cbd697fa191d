"""Feature cache in the user cache dir: one SQLite file per (extractor id, preprocessing).

Rows are ``(sha256 of the image or text, vector bytes)``; SQLite gives atomic, concurrent-safe
writes with the standard library only. Set-level reference features (FID/KID) are kept as one
``.npy`` file per (data set, preprocessing, extractor, count), written atomically.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Iterable

import numpy as np

from ibench.core.jsonio import replace_atomic
from ibench.core.paths import cache_dir

_CHUNK = 500  # SQLite's bound-parameter limit is generous, but keep statements short


def key_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


class FeatureCache:
    """Vectors of one extractor (+ preprocessing), keyed by content hash."""

    def __init__(self, extractor_id: str, preprocessing: str, root: Path | None = None):
        self.key = f"{extractor_id}|{preprocessing}"
        folder = (root or cache_dir()) / "features"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{key_hash(extractor_id, preprocessing)}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS feats (sha TEXT PRIMARY KEY, dtype TEXT, data BLOB)")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('key', ?)", (self.key,))

    def close(self) -> None:
        self._db.close()

    def missing(self, shas: Iterable[str]) -> list[str]:
        """The hashes (in order, deduplicated) that have no vector yet."""
        wanted = list(dict.fromkeys(shas))
        have: set[str] = set()
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            q = f"SELECT sha FROM feats WHERE sha IN ({','.join('?' * len(chunk))})"
            have.update(r[0] for r in self._db.execute(q, chunk))
        return [s for s in wanted if s not in have]

    def get(self, shas: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(shas))
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            q = f"SELECT sha, dtype, data FROM feats WHERE sha IN ({','.join('?' * len(chunk))})"
            for sha, dtype, data in self._db.execute(q, chunk):
                out[sha] = np.frombuffer(data, dtype=dtype)
        return out

    def put(self, shas: list[str], vectors: np.ndarray) -> None:
        """Store one vector per hash, in one transaction."""
        vectors = np.ascontiguousarray(vectors)
        rows = [(s, vectors.dtype.str, vectors[i].tobytes()) for i, s in enumerate(shas)]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO feats VALUES (?, ?, ?)", rows)


def reference_stats_dir() -> Path:
    return cache_dir() / "reference_stats"


def reference_stats_path(dataset: str, preprocessing: str, extractor_id: str, count: int) -> Path:
    return reference_stats_dir() / f"{key_hash(dataset, preprocessing, extractor_id, str(count))}.npy"


def load_array(path: Path) -> np.ndarray | None:
    try:
        return np.load(path) if path.is_file() else None
    except (OSError, ValueError):  # a torn or foreign file: recompute
        return None


def save_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` atomically (``ibench.core.jsonio.replace_atomic``)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    replace_atomic(path, write)
