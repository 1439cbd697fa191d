"""Readers of the anchors' released judge outputs, read as their own code reads them.

- VIEScore (github.com/TIGER-AI-Lab/VIEScore@2cbea4e, ``paper_implementation/_answers``, read as
  ``analyze_json.ipynb`` does): ``results_<mllm>_<setting>/ImagenHub_<Task>/<model>/{SC,PQ}.json`` map an
  image to ``{"score": [sub-scores]}`` (or one number). A sub-score list counts as its minimum after
  ``int()`` of each entry (cell 6 ``preprocess``: ``8.5`` counts as 8), a single number as itself; /10 and
  clipped to [0, 1] (``map_to_nearest_higher`` with ``not_mapping=True``). SC and PQ are read over the images
  judged on both (``align_dicts``), O = √(SC·PQ) (``get_O_from_two_dicts_gpt4v``). A model with only SC (or
  only PQ) gives that measure alone.
- VIEScore's traditional metrics (``results_autometrics/ImagenHub_<Task>/<model>.json``: image ->
  {metric: value}): one judge per metric, its value set against SC, PQ and O; LPIPS with its sign inverted
  (lower is better; the paper's Table 9 "signs inverted").
- GenAI-Bench (github.com/TIGER-AI-Lab/GenAI-Bench@f0b0334, ``results/<task>/<judge>/pairwise.json``): per
  pair ``model_vote`` (the judge's ``[[...]]`` answer, matched exactly as ``parse_response`` does,
  inference.py:147-174) and ``human_vote`` (leftvote, rightvote, tievote, bothbad_vote).
- MMRB2 (github.com/facebookresearch/MMRB2, ``benchmark/<task>_response_only.json``): the people's choice per
  pair (``chosen``: A or B); judgements as its ``compute_accuracy.py`` reads them
  (``{pair_id: {"forward": [{"judgement"}], "reverse": [...]}}``; reverse judgements name the screen order).

ImagenHub task folders become ibench task names (``human_eval.imagenhub.IMAGENHUB_TASKS``), so VIEScore's
judges meet ImagenHub's ratings (VIEScore's copy names ``Text-Guided_IG`` ``Text-To-Image``).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from ibench.errors import IbenchError
from ibench.human_eval.imagenhub import IMAGENHUB_TASKS

from . import exact

#: VIEScore's task folders that ImagenHub's rating files name differently.
VIESCORE_FOLDERS = {"Text-Guided_IG": "Text-To-Image", "Multi-Concept_IC": "Multi-Subject_IG"}
LOWER_IS_BETTER = {"LPIPS"}
AUTOMETRICS = "results_autometrics"
GENAIBENCH_VOTES = {"[[A>>B]]": "A>B", "[[A>B]]": "A>B", "[[B>>A]]": "B>A", "[[B>A]]": "B>A",
                    "[[A=B=Good]]": "tie", "[[A=B=Bad]]": "both_bad", "[[A=B]]": "A=B"}
GENAIBENCH_HUMAN = {"leftvote": "A>B", "rightvote": "B>A", "tievote": "tie", "bothbad_vote": "both_bad"}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IbenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IbenchError(f"{path}: not a JSON file ({exc})") from None


def task_name(folder: str) -> str:
    """``ImagenHub_Text-Guided_IG`` -> ``txt2img``; other names are kept."""
    name = folder.removeprefix("ImagenHub_")
    name = VIESCORE_FOLDERS.get(name, name)
    return IMAGENHUB_TASKS.get(name, name)


TENTHS = [Fraction(k, 10) for k in range(11)]


def sub_score(score: Any, where: str) -> Fraction:
    """A VIEScore score (a list of sub-scores or one number) as a value in [0, 1]."""
    try:
        if isinstance(score, list) and score:
            return TENTHS[min(max(min(int(s) for s in score), 0), 10)]
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            return min(max(exact.fraction(score) / 10, Fraction(0)), Fraction(1))
        raise ValueError("empty")
    except (TypeError, ValueError, OverflowError):
        raise IbenchError(f"{where}: score {score!r} is not a number or a list of numbers") from None


def _scores(path: Path) -> dict[str, Fraction]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise IbenchError(f"{path}: expected an object mapping each image to its score")
    out = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or "score" not in entry:
            raise IbenchError(f"{path}: image {key!r} has no 'score'")
        out[key] = sub_score(entry["score"], f"{path} image {key!r}")
    return out


def read_viescore(folder: Path, judge: str) -> list[tuple]:
    """Score rows (judge, task, model, item, sample, measure, value) of one ``results_<mllm>_<setting>`` folder."""
    rows: list[tuple] = []
    tasks = sorted(p for p in folder.glob("ImagenHub_*") if p.is_dir())
    if not tasks:
        raise IbenchError(f"{folder}: no ImagenHub_<Task> folders (expected a VIEScore results_<mllm>_<setting> "
                          f"folder)")
    for task_dir in tasks:
        task = task_name(task_dir.name)
        for model_dir in sorted(p for p in task_dir.iterdir() if p.is_dir()):
            got = {m: _scores(model_dir / f"{m}.json") for m in ("SC", "PQ") if (model_dir / f"{m}.json").is_file()}
            keys = sorted(set(got["SC"]) & set(got["PQ"])) if len(got) == 2 else None
            for measure, values in got.items():
                rows += [(judge, task, model_dir.name, k, 0, measure, _float(values[k]))
                         for k in (keys if keys is not None else sorted(values))]
            if keys is not None:
                rows += [(judge, task, model_dir.name, k, 0, "O", _overall(got["SC"][k], got["PQ"][k])) for k in keys]
    return rows


@lru_cache(maxsize=4096)
def _float(value: Fraction) -> float:
    return float(value)


@lru_cache(maxsize=4096)
def _overall(sc: Fraction, pq: Fraction) -> float:
    """O = √(SC·PQ), exact until one rounding."""
    return exact.sqrt(sc * pq)


def read_viescore_metrics(folder: Path, prefix: Optional[str] = None) -> list[tuple]:
    """Score rows of ``results_autometrics``: one judge per metric, the same value against SC, PQ and O."""
    rows: list[tuple] = []
    tasks = sorted(p for p in folder.glob("ImagenHub_*") if p.is_dir())
    if not tasks:
        raise IbenchError(f"{folder}: no ImagenHub_<Task> folders (expected VIEScore's results_autometrics)")
    for task_dir in tasks:
        for path in sorted(task_dir.glob("*.json")):
            data = read_json(path)
            if not isinstance(data, dict):
                raise IbenchError(f"{path}: expected an object mapping each image to its metrics")
            for key, entry in sorted(data.items()):
                for metric, value in sorted((entry or {}).items()):
                    if not isinstance(value, (int, float)) or not math.isfinite(value):
                        raise IbenchError(f"{path}: image {key!r} metric {metric!r} is not a finite number")
                    sign = -1 if metric in LOWER_IS_BETTER else 1
                    name = f"{prefix}:{metric}" if prefix else metric
                    rows += [(name, task_name(task_dir.name), path.stem, key, 0, m, sign * float(value))
                             for m in ("SC", "PQ", "O")]
    return rows


def genaibench_files(path: Path) -> list[tuple[str, str, Path]]:
    """(task, judge, file) of a GenAI-Bench ``results/`` folder, one task's folder, or one ``pairwise.json``."""
    if path.is_file():
        return [(path.parent.parent.name, path.parent.name, path)]
    found = sorted(path.glob("*/*/pairwise.json"))
    if found:
        return [(f.parent.parent.name, f.parent.name, f) for f in found]
    found = sorted(path.glob("*/pairwise.json"))
    if found:
        return [(path.name, f.parent.name, f) for f in found]
    raise IbenchError(f"{path}: no pairwise.json (expected GenAI-Bench's results/<task>/<judge>/pairwise.json)")


def read_genaibench(path: Path, label: Optional[str] = None) -> list[tuple]:
    """Vote rows (judge, task, item, order, vote, human) of GenAI-Bench result files."""
    rows: list[tuple] = []
    for task, judge, file in genaibench_files(path):
        data = read_json(file)
        if not isinstance(data, list):
            raise IbenchError(f"{file}: expected a list of judged pairs")
        name = label if label and path.is_file() else (f"{label}:{judge}" if label else judge)
        for n, rec in enumerate(data):
            if not isinstance(rec, dict) or rec.get("human_vote") not in GENAIBENCH_HUMAN:
                raise IbenchError(f"{file}: pair {n}: 'human_vote' must be one of {', '.join(GENAIBENCH_HUMAN)}")
            vote = GENAIBENCH_VOTES.get(rec.get("model_vote")) if isinstance(rec.get("model_vote"), str) else None
            rows.append((name, task, str(rec.get("idx", n)), "ab", vote, GENAIBENCH_HUMAN[rec["human_vote"]]))
    return rows


def read_mmrb2_labels(path: Path) -> dict[str, dict[str, str]]:
    """task -> {pair id: "A>B" | "B>A"} from an MMRB2 ``<task>_response_only.json``."""
    data = read_json(path)
    pairs = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(pairs, list):
        raise IbenchError(f"{path}: expected MMRB2's {{\"pairs\": [...]}}")
    task = f"mmrb2-{path.stem.removesuffix('_response_only')}"
    out: dict[str, str] = {}
    for n, pair in enumerate(pairs):
        if not isinstance(pair, dict) or pair.get("chosen") not in ("A", "B") or "id" not in pair:
            raise IbenchError(f"{path}: pair {n}: needs an 'id' and 'chosen' (A or B)")
        out[str(pair["id"])] = "A>B" if pair["chosen"] == "A" else "B>A"
    return {task: out}


def read_mmrb2_judgements(path: Path, judge: str, labels: dict[str, dict[str, str]]) -> list[tuple]:
    """Vote rows of an MMRB2 judgement file against the people's choices in ``labels``."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise IbenchError(f"{path}: expected MMRB2 judgements {{pair_id: {{forward: [...], reverse: [...]}}}}")
    where = {pid: task for task, pairs in labels.items() for pid in pairs}
    rows: list[tuple] = []
    for pid, pred in data.items():
        if pid not in where:
            continue
        human = labels[where[pid]][pid]
        for order, key in (("ab", "forward"), ("ba", "reverse")):
            got = (pred or {}).get(key) or []
            judgement = got[0].get("judgement") if got and isinstance(got[0], dict) else None
            vote = _mmrb2_vote(judgement, order)
            if got:
                rows.append((judge, where[pid], pid, order, vote, human))
    if not rows:
        raise IbenchError(f"{path}: no judged pair is in the human labels given with --human mmrb2:...")
    return rows


def _mmrb2_vote(judgement: Any, order: str) -> Optional[str]:
    """A judgement in screen terms ("A": the first shown) as a vote between the pair's A and B."""
    if judgement not in ("A", "B"):
        return "tie" if isinstance(judgement, str) and judgement else None
    first = judgement == "A"
    return "A>B" if first == (order == "ab") else "B>A"
