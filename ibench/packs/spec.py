"""What a benchmark pack is: the anchor's test set, its judge protocol and its published rows.

A pack names everything it depends on by a pinned revision: the test set on the Hugging Face hub (a
dataset repo at a commit, its files' SHA-256 where ibench pins them itself), the anchor's judge prompt
files on GitHub (a commit, a path, a SHA-256: fetched at run time by ``anchor_files``, never copied into
ibench) and the published leaderboard rows (``published/<pack>.csv``, each row with its source).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Callable, Optional

COMMIT = re.compile(r"^[0-9a-f]{40}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class AnchorFile:
    """One file of an anchor's GitHub repository at a pinned commit (a judge prompt, a rubric)."""

    repo: str  # owner/name
    commit: str  # 40 hex digits
    path: str
    sha256: str
    size: int

    def __post_init__(self) -> None:
        if not COMMIT.match(self.commit) or not SHA256.match(self.sha256) or self.size <= 0:
            raise ValueError(f"{self.repo}:{self.path}: a pin needs a 40-hex commit, a SHA-256 and a size")

    @property
    def url(self) -> str:
        """The raw file at the pinned commit (never a branch: a branch moves)."""
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class HubDataset:
    """One dataset repo on the Hugging Face hub and the files of it a pack reads."""

    repo: str
    revision: Optional[str]  # a commit; None: not pinned yet (the fetch records the commit it resolved)
    patterns: tuple[str, ...]  # which files to download (fnmatch patterns, as snapshot_download takes)
    licence: str
    pins: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (sha256, size) pinned by ibench
    note: str = ""

    def __post_init__(self) -> None:
        if self.revision is not None and not COMMIT.match(self.revision):
            raise ValueError(f"{self.repo}: revision {self.revision!r} is not a 40-hex commit")

    @property
    def url(self) -> str:
        return f"https://huggingface.co/datasets/{self.repo}"


@dataclass(frozen=True)
class Judge:
    """The anchor's official judge: model, decoding, calls per sample, prompt files, reply format."""

    model: str  # the model id the anchor's code sends
    temperature: Optional[float]  # None: the API's default (the anchor sends none)
    max_tokens: Optional[int]
    questions: tuple[str, ...]  # the verdicts asked per sample (e.g. ("cp", "pf"))
    calls_per_sample: int  # API calls the anchor's code makes per sample, retries of a success included
    repeats: int  # independent judge runs averaged (DreamBench++: 3)
    prompts: tuple[AnchorFile, ...]
    reply: str  # the reply format the anchor parses (see protocol.PARSERS)
    source: str  # where this is in the anchor's code (repo@commit:file:line)
    scale: int = 10  # the top of the score scale (DreamBench++: 4)


@dataclass(frozen=True)
class Pack:
    """A benchmark the field reports numbers on, as ibench instances plus the anchor's protocol."""

    name: str
    title: str
    paper: str
    anchor_repo: str  # owner/name on GitHub
    anchor_commit: str
    anchor_licence: str
    datasets: tuple[HubDataset, ...]
    size: str  # what the test set holds (samples, images, bytes), with its source
    samples: int  # instances ibench builds from the full set (0: not known before the fetch)
    judge: Judge
    headline: str  # the number the anchor's leaderboard ranks by
    family: str  # the ibench task family of its instances (each subset's own where ``subsets`` names them)
    aggregate: Callable  # the anchor's aggregation (a pure function on verdict records)
    convert: Callable  # dataset snapshot(s) -> ibench instances
    headlines: Callable = lambda records: ({}, {})  # records -> (the leaderboard's numbers by name, the tables)
    counts: Callable = lambda table: {}  # the tables -> per number's name, how many samples it is over
    strata: tuple[str, ...] = ()  # record fields the anchor averages within (the bootstrap resamples within them)
    unit: str = ""  # the record field the anchor keys a sample by (relabelled when the bootstrap draws it twice)
    notes: tuple[str, ...] = ()
    subsets: dict[str, str] = field(default_factory=dict)  # subset (``meta.subset``) -> its family: one task each

    @property
    def task(self) -> str:
        """The task name of the pack's instances (task names are ``[a-z][a-z0-9_]*``)."""
        return f"pack_{self.name}"

    @property
    def licence(self) -> str:
        return "; ".join(sorted({d.licence for d in self.datasets}))

    @property
    def revision(self) -> str:
        return ", ".join(f"{d.repo}@{(d.revision or 'unpinned')[:12]}" for d in self.datasets)

    def published(self) -> list[dict]:
        """The anchor's published leaderboard rows (``published/<name>.csv``), each with its source."""
        return published_rows(self.name)


PUBLISHED_COLUMNS = ("model", "subset", "metric", "value", "judge", "source")


def published_rows(name: str) -> list[dict]:
    """Rows of ``published/<name>.csv``: model, subset, metric, value (float), judge, source."""
    text = resources.files("ibench.packs").joinpath("published", f"{name}.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    for n, row in enumerate(rows, start=2):
        if tuple(row) != PUBLISHED_COLUMNS or any(not (row[c] or "").strip() for c in PUBLISHED_COLUMNS):
            raise ValueError(f"published/{name}.csv row {n}: expected {', '.join(PUBLISHED_COLUMNS)}, all filled")
        row["value"] = float(row["value"])
    return rows
