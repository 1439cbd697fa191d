"""OmniContext (OmniGen2, Wu et al. 2025): in-context generation from 1-3 input images, judged by GPT-4.1.

Anchor: github.com/VectorSpaceLab/OmniGen2 at ``COMMIT``, folder ``omnicontext/``. Rows of the hub
dataset ``OmniGen2/OmniContext`` (split ``train``) carry ``key``, ``task_type``, ``instruction``,
``instruction_language`` and ``input_images`` (a list of images), the fields the anchor's scorer reads
(test_omnicontext_score.py:18-22, :75; inference.py:294-297). A ``scene`` task's last image is the scene
(prompt_generator.py:108: "... the scene background from image3"). Prompt following (PF) and subject
consistency (SC) are 0-10; per sample O = sqrt(PF x SC) (calculate_statistics.py:27), the mean per task
type (:33-35), then the mean of the task means (:66); one instruction language at a time (:22).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from statistics import mean
from typing import Iterable, Mapping

from ibench.core.instruction import Reference
from ibench.errors import IbenchError

from .rows import PACKS_DIR, Converted, image_bytes, instance, read_rows, safe_key, save_image, split_files

ANCHOR = "VectorSpaceLab/OmniGen2"
COMMIT = "0f72fa92564d9f8ba76f53fcc3c05aca2372458f"
DATASET = "OmniGen2/OmniContext"
SPLIT = "train"  # test_omnicontext_score.py:75
COLUMNS = ("key", "task_type", "instruction", "instruction_language", "input_images")
TEXT = ("key", "task_type", "instruction", "instruction_language")  # a row without one is skipped, counted
#: The reference kind of a scene task's scene image (ibench.core.vocabulary).
SCENE_KIND = "scene"
#: How an instruction names input image k: "image 1", "Image 2", "picture 3"; Chinese "图1", "图片2".
_MENTION = re.compile(r"\b(?:image|picture|photo)\s*#?\s*(\d+)\b|(?:图片|图像|图)\s*(\d+)", re.IGNORECASE)


def text_with_markers(instruction: str, count: int) -> tuple[str, list[int]]:
    """The instruction with each "image k" (1 <= k <= count) as ``[ref#k]``; unmentioned images are
    named up front ("[ref#2] [ref#3]: ..."), so every input image is a used reference."""
    used: set[int] = set()

    def sub(m: re.Match) -> str:
        k = int(m.group(1) or m.group(2))
        if 1 <= k <= count:
            used.add(k)
            return f"[ref#{k}]"
        return m.group(0)

    text = _MENTION.sub(sub, instruction)
    unmentioned = [k for k in range(1, count + 1) if k not in used]
    if unmentioned:
        text = " ".join(f"[ref#{k}]" for k in unmentioned) + ": " + text
    return text, unmentioned


def convert(snapshots: Mapping[str, Path], root: Path, task: str = "pack_omnicontext",
            family: str = "zero_shot") -> Converted:
    """One instance per row; input image k is ``[ref#k]`` (a subject; the scene of a scene task)."""
    done = Converted()
    seen: set[str] = set()
    for row in read_rows(split_files(Path(snapshots[DATASET]), SPLIT), COLUMNS, text=TEXT, skipped=done.skipped):
        key, task_type = str(row["key"]), str(row["task_type"])
        where = f"{DATASET} row {key}"
        images = row["input_images"] or []
        if not images:
            done.skipped.append((key, "no input image"))
            continue
        ident = safe_key(task_type, row["instruction_language"], key)
        if ident in seen:
            raise IbenchError(f"{where}: key repeated within task type {task_type!r} and language")
        seen.add(ident)
        scene = "scene" in task_type  # test_omnicontext_score.py:46-49
        refs = []
        for k, cell in enumerate(images, start=1):
            rel = save_image(image_bytes(cell, where), root, f"{PACKS_DIR}/omnicontext/{task_type}/{safe_key(key)}_{k}",
                             f"{where} image {k}")
            kind = SCENE_KIND if scene and k == len(images) else "subject"
            refs.append(Reference(marker=f"ref#{k}", kind=kind, caption=f"image {k}", images=[rel]))
        text, unmentioned = text_with_markers(row["instruction"], len(images))
        checklist = [f"The image follows the instruction: {row['instruction']}",
                     "The people and objects of the input images keep their identity"
                     + (" and the scene is the scene image's" if scene else "")]
        meta = {"anchor": "omnicontext", "anchor_key": key, "task_type": task_type,
                "language": row["instruction_language"], "anchor_text": row["instruction"],
                "unmentioned_images": unmentioned}
        done.instances.append(instance(task, family, ident, text, refs, row["instruction"], checklist, meta))
    return done


def aggregate(records: Iterable[Mapping], language: str = "en") -> dict:
    """The anchor's table from verdict records (``key``, ``task_type``, ``language``, ``pf``, ``sc``: 0-10,
    None for a failed verdict: counted, never guessed as the anchor does, omnicontext_score.py:38-46).

    Returns per task type PF, SC, O means and ``average`` (the mean of task means, None when a task type
    has no scored sample: the anchor's mean would be NaN)."""
    per_task: dict[str, list[tuple[float, float]]] = {}
    failed = 0
    for r in records:
        if r["language"] != language:
            continue
        per_task.setdefault(r["task_type"], [])
        if r.get("pf") is None or r.get("sc") is None:
            failed += 1
            continue
        pf, sc = float(r["pf"]), float(r["sc"])
        if not (0 <= pf <= 10 and 0 <= sc <= 10):
            raise IbenchError(f"OmniContext verdict {r['key']}: scores {pf}, {sc} are not in 0-10")
        per_task[r["task_type"]].append((pf, sc))
    tasks = {}
    for name, pairs in sorted(per_task.items()):
        tasks[name] = {"pf": mean(p for p, _ in pairs), "sc": mean(s for _, s in pairs),
                       "o": mean(math.sqrt(p * s) for p, s in pairs), "n": len(pairs)} if pairs else None
    complete = bool(tasks) and all(t is not None for t in tasks.values())
    average = {k: mean(t[k] for t in tasks.values()) for k in ("pf", "sc", "o")} if complete else None
    return {"language": language, "tasks": tasks, "average": average, "failed": failed}


STRATA = ("language", "task_type")  # the bootstrap resamples within each task type (and language)
UNIT = "key"


def headlines(records: list[Mapping]) -> tuple[dict, dict]:
    """(per instruction language PF, SC and O: the mean of task-type means; the tables per language)."""
    tables = {lang: aggregate(records, lang) for lang in sorted({r["language"] for r in records}, key=_english_first)}
    values = {f"{lang}/{k}": (t["average"] or {}).get(k) for lang, t in tables.items() for k in ("pf", "sc", "o")}
    return values, tables


def counts(tables: Mapping) -> dict[str, int]:
    """Per headline, the samples it is over: the language's samples with both PF and SC."""
    return {f"{lang}/{k}": sum(t["n"] for t in table["tasks"].values() if t)
            for lang, table in tables.items() for k in ("pf", "sc", "o")}


def _english_first(language: str) -> tuple[bool, str]:
    return language != "en", language  # the anchor's default language leads
