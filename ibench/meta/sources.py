"""``--human FORMAT:PATH`` and ``--judge [LABEL=]FORMAT:PATH``: every source read into ``records`` tables.

Human formats: ``imagenhub`` (a folder of per-task rater TSVs, as ImagenHub and VIEScore's
``_human_annotations/ImagenHub_human_eval_results/`` hold them), ``study`` (an ibench rating database:
a file or an SQLAlchemy URL), ``mmrb2`` (MMRB2's ``<task>_response_only.json``: the people's choice per pair).

Judge formats: ``ibench`` (scored run dirs or folders of them: the judge's SC/PQ/O, or any other metric
as one judge set against SC, PQ and O), ``viescore`` (a ``results_<mllm>_<setting>`` folder, or a folder
of them such as ``_answers``: one judge each), ``viescore-metrics`` (``results_autometrics``),
``genaibench`` (``results/`` or one ``pairwise.json``), ``mmrb2`` (a judgement file; needs ``--human
mmrb2:...``), ``csv`` / ``jsonl`` (columns ``item, model, measure, value`` for scores or ``item, vote`` for
votes; optional ``judge, task, sample, order, human``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from ibench.errors import IbenchError

from . import anchors
from .records import MEASURES, VOTES, ratings_frame, scores_frame, votes_frame

HUMAN_FORMATS = ("imagenhub", "study", "mmrb2")
JUDGE_FORMATS = ("ibench", "viescore", "viescore-metrics", "genaibench", "mmrb2", "csv", "jsonl")


@dataclass(frozen=True)
class Spec:
    """A parsed ``[LABEL=]FORMAT:PATH``."""

    fmt: str
    path: str
    label: Optional[str] = None

    @classmethod
    def parse(cls, text: str, formats: tuple[str, ...], option: str) -> "Spec":
        label, _, rest = text.partition("=") if "=" in text.split(":", 1)[0] else (None, "", text)
        fmt, sep, path = rest.partition(":")
        if not sep or fmt not in formats or not path:
            raise IbenchError(f"{option} {text!r}: expected {'[LABEL=]' if option == '--judge' else ''}FORMAT:PATH "
                              f"with FORMAT one of {', '.join(formats)}")
        if label is not None and not label.strip():
            raise IbenchError(f"{option} {text!r}: the label before '=' is empty")
        return cls(fmt, path, label)


@dataclass(frozen=True)
class RunRef:
    """A scored ibench run as meta-evaluation sees it (found and labelled by the caller)."""

    path: Path
    run_id: str
    task: str
    label: str


@dataclass
class Sources:
    """Everything read: human ratings, pairwise labels, judge scores and votes."""

    human_rows: list[tuple] = field(default_factory=list)  # records.RATING_COLUMNS
    study: Optional[pd.DataFrame] = None  # ratings of an ibench study (item_scores), named once runs are known
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # pairwise: task -> item -> human vote
    scores: list[tuple] = field(default_factory=list)
    votes: list[tuple] = field(default_factory=list)

    def ratings(self, runs: Optional[list[RunRef]] = None) -> pd.DataFrame:
        """Every rating; a study's models named as the judged ``runs`` go by (``aggregate.model_labels``)."""
        rows = list(self.human_rows)
        if self.study is not None and len(self.study):
            from ibench.human_eval.aggregate import model_labels

            f = self.study
            named = model_labels(f, {(r.task, r.run_id): r.label for r in runs or []})
            rows += list(zip(f["task"], named, f["instance_id"], f["sample"], f["rater"], f["SC"], f["PQ"]))
        return ratings_frame(rows)

    def score_frame(self) -> pd.DataFrame:
        return scores_frame(self.scores)

    def vote_frame(self) -> pd.DataFrame:
        return votes_frame(self.votes)


def _existing(spec: Spec, option: str) -> Path:
    path = Path(spec.path).expanduser()
    if not path.exists():
        raise IbenchError(f"{option} {spec.fmt}:{spec.path}: no such file or folder")
    return path


def read_human(spec: Spec, sources: Sources, study_name: Optional[str] = None) -> None:
    """Add a ``--human`` source's ratings (or pairwise labels) to ``sources``."""
    if spec.fmt == "imagenhub":
        from ibench.human_eval.imagenhub import read_imagenhub

        f = read_imagenhub(_existing(spec, "--human"))
        sources.human_rows += list(zip(f["task"], f["model"], f["uid"], [0] * len(f), f["rater"], f["SC"], f["PQ"]))
    elif spec.fmt == "study":
        from ibench.human_eval.aggregate import item_scores

        frame = item_scores(spec.path, study_name)
        sources.study = frame if sources.study is None else pd.concat([sources.study, frame], ignore_index=True)
    else:
        sources.labels.update(anchors.read_mmrb2_labels(_existing(spec, "--human")))


def read_judge(spec: Spec, sources: Sources, runs: Optional[list[RunRef]] = None) -> None:
    """Add a ``--judge`` source's scores or votes to ``sources`` (``runs``: the runs of an ``ibench`` spec)."""
    if spec.fmt == "ibench":
        sources.scores += read_runs(runs or [], spec.label)
        return
    path = _existing(spec, "--judge")
    if spec.fmt == "viescore":
        settings = sorted(p for p in path.glob("results_*") if p.is_dir() and p.name != anchors.AUTOMETRICS)
        if settings and not any(path.glob("ImagenHub_*")):
            for folder in settings:
                name = folder.name.removeprefix("results_")
                sources.scores += anchors.read_viescore(folder, f"{spec.label}:{name}" if spec.label else name)
        else:
            sources.scores += anchors.read_viescore(path, spec.label or path.name.removeprefix("results_"))
    elif spec.fmt == "viescore-metrics":
        sources.scores += anchors.read_viescore_metrics(path, spec.label)
    elif spec.fmt == "genaibench":
        sources.votes += anchors.read_genaibench(path, spec.label)
    elif spec.fmt == "mmrb2":
        if not sources.labels:
            raise IbenchError(f"--judge mmrb2:{spec.path}: give the people's choices too (--human mmrb2:FILE)")
        sources.votes += anchors.read_mmrb2_judgements(path, spec.label or path.stem, sources.labels)
    else:
        _read_plain(path, spec, sources)


def read_runs(runs: list[RunRef], label: Optional[str] = None) -> list[tuple]:
    """Score rows of scored ibench runs: ``judge_sc/pq/o`` as the judge's SC, PQ and O (its label from
    results.json), every other per-image metric as a judge of its own against all three (a lower-is-better
    metric with its sign inverted)."""
    from ibench.core.metrics import METRICS
    from ibench.evaluators.results import load_results, load_scores

    judges = {"judge_sc": "SC", "judge_pq": "PQ", "judge_o": "O"}
    rows: list[tuple] = []
    for run in runs:
        results = load_results(run.path)
        scores = load_scores(run.path)
        per_image = scores.groupby(["instance_id", "sample", "metric"], as_index=False)["value"].mean()
        for metric, group in per_image.groupby("metric", sort=True):
            entry = results.metrics.get(metric)
            if metric in judges:
                name = label or (getattr(entry, "judge", None) or {}).get("label") or "judge"
                measures = [judges[metric]]
                sign = 1.0
            else:
                name = f"{label}:{metric}" if label else metric
                measures = list(MEASURES)
                higher = results.higher_is_better(metric)
                if higher is None:
                    higher = METRICS[metric].higher_is_better if metric in METRICS else True
                sign = 1.0 if higher else -1.0
            for r in group.itertuples(index=False):
                rows += [(name, run.task, run.label, r.instance_id, int(r.sample), m, sign * float(r.value))
                         for m in measures]
    if not rows:
        raise IbenchError("--judge ibench:...: the runs have no per-image scores (run `ibench score` first)")
    return rows


def _read_plain(path: Path, spec: Spec, sources: Sources) -> None:
    """A CSV/JSONL of scores (item, model, measure, value) or votes (item, vote)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IbenchError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    if spec.fmt == "csv":
        records = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise IbenchError(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from None
    if not records:
        raise IbenchError(f"{path}: no rows")
    judge = spec.label or path.stem
    pairwise = "vote" in records[0]
    need = ("item", "vote") if pairwise else ("item", "model", "measure", "value")
    for n, rec in enumerate(records, 2 if spec.fmt == "csv" else 1):
        where = f"{path} {'line' if spec.fmt == 'csv' else 'record'} {n}"
        missing = [k for k in need if rec.get(k) in (None, "")]
        if missing:
            raise IbenchError(f"{where}: no {missing[0]!r} (columns: {', '.join(need)})")
        task = str(rec.get("task") or "default")
        name = str(rec.get("judge") or judge)
        if pairwise:
            vote, human = rec["vote"], rec.get("human") or sources.labels.get(task, {}).get(str(rec["item"]))
            if vote not in VOTES or human not in VOTES[:4]:
                raise IbenchError(f"{where}: vote and human must be one of {', '.join(VOTES)} (human: no A=B)")
            sources.votes.append((name, task, str(rec["item"]), str(rec.get("order") or "ab"), vote, human))
            continue
        if rec["measure"] not in MEASURES:
            raise IbenchError(f"{where}: measure {rec['measure']!r} is not one of {', '.join(MEASURES)}")
        try:
            value = float(rec["value"])
            sample = int(rec.get("sample") or 0)
        except (TypeError, ValueError):
            raise IbenchError(f"{where}: value {rec['value']!r} or sample is not a number") from None
        if not math.isfinite(value):
            raise IbenchError(f"{where}: value {rec['value']!r} is not finite")
        sources.scores.append((name, task, str(rec["model"]), str(rec["item"]), sample, rec["measure"], value))
