"""``pack.json``: a benchmark pack's numbers for one run (schema ``ibench.pack-results/1``), per judge.

A run generated from a pack (``ibench run --pack``) is scored with the benchmark's own judge protocol
(``ibench.packs.scoring``); each judge that scored it gets one entry: its identity, whether it is the
benchmark's own judge (same model, the pinned prompt files: comparable with the published rows), the
headline numbers with bootstrap CIs, the benchmark's whole table, the verdict counts (failures by kind:
a refusal or an unreadable reply is counted, never a number) and the coverage of the run's samples. The
published leaderboard rows ride along, so a report needs nothing but this file. Reports read it through
``load_pack_results``; scoring writes it through ``write_pack_results``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ibench.core.jsonio import json_safe, read_json, write_json_atomic
from ibench.core.rundir import RunLayout
from ibench.core.yamlio import describe
from ibench.errors import IbenchError

from .coverage import Coverage

PACK_SCHEMA = "ibench.pack-results/1"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, populate_by_name=True)


class PackEstimate(_Record):
    """A headline number: the benchmark's own formula on all scored samples, and a percentile bootstrap CI
    that resamples samples within each of the formula's groups (task type, category, ...)."""

    value: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    n: int = Field(ge=0, description="scored samples the value is over")


class PublishedRow(_Record):
    model: str
    subset: str
    metric: str
    value: float
    judge: str
    source: str


class VerdictCounts(_Record):
    questions: int = Field(ge=0)
    ok: int = Field(ge=0)
    failed: int = Field(ge=0)
    pending: int = Field(ge=0, description="not asked: the call budget ran out")
    failures: dict[str, int]
    cached: int = Field(ge=0)
    calls: int = Field(ge=0, description="new backend calls, re-asks included")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class PackJudgeResult(_Record):
    judge_id: str
    label: str
    model: str  # the judge model the config names
    served_models: list[str]  # what the API said answered
    official: bool  # the benchmark's own judge config (``--judge-config anchor``)
    #: the published rows' judges this judge is (same model; the prompts are always the benchmark's pinned files):
    #: its numbers are comparable with those rows only
    comparable_with: list[str]
    identity: dict[str, Any]
    prompts: list[dict[str, str]]  # the benchmark's prompt files: repo, commit, path, sha256
    repeats: int = Field(ge=1)
    headline: dict[str, PackEstimate]
    table: dict[str, Any]  # the benchmark's whole aggregate (``Pack.aggregate``)
    verdicts: VerdictCounts
    coverage: Coverage
    resamples: int = Field(ge=0)
    scored_at: str


class PackResults(_Record):
    schema_: Literal["ibench.pack-results/1"] = Field(PACK_SCHEMA, alias="schema")
    pack: str
    title: str
    subset: Optional[str]
    task: str
    run_id: str
    model: str  # the image model (the run's)
    anchor: str  # repository@commit of the benchmark's scoring code
    headline: str  # what the headline numbers are
    order: list[str]  # the headline numbers' names in the benchmark's order (its leading language first)
    published: list[PublishedRow]
    judges: dict[str, PackJudgeResult]

    def as_json(self) -> dict:
        return json_safe(self.model_dump(mode="json", by_alias=True))


def pack_results_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / RunLayout.PACK_RESULTS


def load_pack_results(run_dir: str | Path) -> Optional[PackResults]:
    """The run's ``pack.json``, typed; None when the run was never scored as a pack. Malformed: one line."""
    path = pack_results_path(run_dir)
    if not path.is_file():
        return None
    data = read_json(path, "pack results")
    if not isinstance(data, dict) or data.get("schema") != PACK_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise IbenchError(f"{path}: schema {found!r} is not {PACK_SCHEMA!r}; re-score the run "
                          f"(`ibench score {run_dir} --judge-config anchor`)")
    try:
        return PackResults.model_validate(data)
    except ValidationError as exc:
        raise IbenchError(f"{path}: {describe(exc)}; re-score the run (`ibench score {run_dir}`)") from None


def write_pack_results(run_dir: str | Path, results: PackResults) -> dict:
    doc = results.as_json()
    write_json_atomic(pack_results_path(run_dir), doc)
    return doc
