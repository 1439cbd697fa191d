"""GEdit-Bench (Step1X-Edit, Liu et al. 2025): real-world editing instructions in English and Chinese.

Anchor: github.com/stepfun-ai/Step1X-Edit at ``COMMIT``, folder ``GEdit-Bench/``. Rows of the hub dataset
``stepfun-ai/GEdit-Bench`` (split ``train``; the hub lists its format as Arrow) carry ``task_type``,
``key``, ``instruction``, ``instruction_language``, ``input_image``, ``input_image_raw`` and
``Intersection_exist`` (generate_image_example.py:4-11, :36-43). The judge compares ``input_image`` (saved
as ``<key>_SRCIMG.png``, generate_image_example.py:48-53) with the edit. VIEScore's semantic consistency
(SC) and perceptual quality (PQ) are 0-10, each the minimum of its two sub-scores
(viescore/__init__.py:91-93); per sample O = sqrt(SC x PQ) (calculate_statistics.py:56); the mean per edit
category (:66-78) and the mean over the 11 categories (:84-117), for one language, over the full set and
over the rows with ``Intersection_exist`` (:61-64).
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import mean
from typing import Iterable, Mapping, Sequence, Union

from ibench.core.instruction import Reference
from ibench.errors import IbenchError

from .rows import PACKS_DIR, Converted, image_bytes, instance, read_rows, safe_key, save_image, split_files

ANCHOR = "stepfun-ai/Step1X-Edit"
COMMIT = "570eba6ebda0c45c013983a483afbf2fd12bfcbc"
DATASET = "stepfun-ai/GEdit-Bench"
SPLIT = "train"  # generate_image_example.py:36
COLUMNS = ("task_type", "key", "instruction", "instruction_language", "input_image", "Intersection_exist")
TEXT = ("task_type", "key", "instruction", "instruction_language")  # a row without one is skipped, counted
#: calculate_statistics.py:9-11 (the categories averaged, in the anchor's order).
GROUPS = ("background_change", "color_alter", "material_alter", "motion_change", "ps_human", "style_change",
          "subject-add", "subject-remove", "subject-replace", "text_change", "tone_transfer")

Score = Union[int, float, Sequence[Union[int, float]]]


def convert(snapshots: Mapping[str, Path], root: Path, task: str = "pack_gedit_bench",
            family: str = "editing") -> Converted:
    """One instance per row: the source image is ``[ref#1]`` (kind ``source``), the instruction the edit."""
    done = Converted()
    seen: set[str] = set()
    for row in read_rows(split_files(Path(snapshots[DATASET]), SPLIT), COLUMNS, text=TEXT, skipped=done.skipped):
        key, group, language = str(row["key"]), str(row["task_type"]), str(row["instruction_language"])
        where = f"{DATASET} row {group}/{language}/{key}"
        ident = safe_key(group, language, key)
        if ident in seen:
            raise IbenchError(f"{where}: the same key twice in one category and language")
        seen.add(ident)
        rel = save_image(image_bytes(row["input_image"], where), root,
                         f"{PACKS_DIR}/gedit_bench/{group}/{language}/{safe_key(key)}_SRCIMG", where)
        ref = Reference(marker="ref#1", kind="source", caption="the source image", images=[rel])
        checklist = [f"The edit does what the instruction asks: {row['instruction']}",
                     "Nothing the instruction does not ask for has changed (no over-editing)"]
        meta = {"anchor": "gedit_bench", "anchor_key": key, "task_type": group, "language": language,
                "intersection": bool(row["Intersection_exist"]), "anchor_text": row["instruction"]}
        done.instances.append(instance(task, family, ident, f"Edit [ref#1]: {row['instruction']}", [ref],
                                       row["instruction"], checklist, meta))
    return done


def _score(value: Score, where: str) -> float:
    """A score or the list of sub-scores VIEScore returns (its minimum, viescore/__init__.py:92-93)."""
    values = [value] if isinstance(value, (int, float)) else list(value)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 10 for v in values):
        raise IbenchError(f"GEdit-Bench verdict {where}: {value!r} is not a score (or list of scores) in 0-10")
    return float(min(values))


def _table(rows: list[tuple[str, float, float]]) -> dict:
    """Per category SC, PQ, O means, then the mean over the anchor's 11 categories."""
    per = {}
    for group in GROUPS:
        pairs = [(sc, pq) for g, sc, pq in rows if g == group]
        per[group] = {"sc": mean(s for s, _ in pairs), "pq": mean(q for _, q in pairs),
                      "o": mean(math.sqrt(s * q) for s, q in pairs), "n": len(pairs)} if pairs else None
    complete = all(v is not None for v in per.values())
    return {"categories": per, **({k: mean(v[k] for v in per.values()) for k in ("sc", "pq", "o")} if complete
                                  else {"sc": None, "pq": None, "o": None})}


def aggregate(records: Iterable[Mapping], language: str = "en") -> dict:
    """The anchor's tables from verdict records (``key``, ``task_type``, ``language``, ``sc``, ``pq``: a
    score or VIEScore's sub-score list, None when failed; ``intersection``: the row's flag).

    ``full`` and ``intersection`` each give per-category and averaged SC, PQ, O (an average is None when a
    category has no scored sample: the anchor's would be NaN); categories outside the 11 are not read by
    the anchor and are counted in ``ignored``."""
    full, inter = [], []
    failed = ignored = 0
    for r in records:
        if r["language"] != language:
            continue
        if r["task_type"] not in GROUPS:
            ignored += 1
            continue
        if r.get("sc") is None or r.get("pq") is None:
            failed += 1
            continue
        where = f"{r['task_type']}/{r['key']}"
        row = (r["task_type"], _score(r["sc"], where), _score(r["pq"], where))
        full.append(row)
        if r["intersection"]:
            inter.append(row)
    return {"language": language, "full": _table(full), "intersection": _table(inter), "failed": failed,
            "ignored": ignored}


STRATA = ("language", "task_type")  # the bootstrap resamples within each category (and language)
UNIT = "key"


def headlines(records: list[Mapping]) -> tuple[dict, dict]:
    """(per language, full set and intersection: SC, PQ and O averaged over the 11 categories; the tables)."""
    tables = {lang: aggregate(records, lang) for lang in sorted({r["language"] for r in records}, key=_english_first)}
    values = {f"{lang}/{part}/{k}": t[part][k] for lang, t in tables.items() for part in ("full", "intersection")
              for k in ("sc", "pq", "o")}
    return values, tables


def counts(tables: Mapping) -> dict[str, int]:
    """Per headline, the samples it is over: the language's (intersection's) samples with both SC and PQ."""
    return {f"{lang}/{part}/{k}": sum(c["n"] for c in t[part]["categories"].values() if c)
            for lang, t in tables.items() for part in ("full", "intersection") for k in ("sc", "pq", "o")}


def _english_first(language: str) -> tuple[bool, str]:
    return language != "en", language  # the anchor's default language leads
