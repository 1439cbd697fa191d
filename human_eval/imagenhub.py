"""ImagenHub's raw ratings format: read, write, import.

One TSV per rater per task, ``<Task>/<Task>_<rater>.tsv``: a ``uid`` column, then one column per
model, each cell ``[SC, PQ]`` (an empty cell: not rated by that rater). Reading maps ImagenHub's task
names to the ibench tasks they correspond to (``IMAGENHUB_TASKS``), so imported ratings and
``ibench human stats --imagenhub`` sit under ibench's names; other names are kept.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ibench.errors import IbenchError

from .assignment import new_token
from .rubric import LEVELS
from .store import (
    Assignment,
    Item,
    Rater,
    Rating,
    Study,
    find_study,
    get_engine,
    history_row,
    token_hash,
    utcnow,
    write,
)

NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
CELL = re.compile(rf"^\[\s*{NUMBER}\s*,\s*{NUMBER}\s*\]$")
LONG_COLUMNS = ["task", "model", "uid", "rater", "SC", "PQ"]
#: ImagenHub task -> the ibench task it corresponds to (Control-Guided_IG mixes control types: no single one).
IMAGENHUB_TASKS = {"Text-To-Image": "txt2img", "Subject-Driven_IG": "subject_gen", "Multi-Subject_IG": "multi_subject",
                   "Text-Guided_IE": "text_edit", "Mask-Guided_IE": "mask_edit", "Subject-Driven_IE": "subject_edit"}
IMPORT_NOTE = "imported from an ImagenHub TSV"
IMPORTED_RUN = "imagenhub"


def imported_run_id(model: str) -> str:
    """The run id an imported item carries: one per model, so no two models of an import share one
    (ImagenHub's TSVs name the model, not a run; joins key on the model too, see ``ibench.report.human``)."""
    return f"{IMPORTED_RUN}/{model}"


def parse_cell(cell: str, where: str) -> Optional[tuple[float, float]]:
    """``[SC, PQ]`` -> (SC, PQ); an empty cell -> None."""
    text = str(cell).strip()
    if not text or text.lower() == "nan":
        return None
    m = CELL.match(text)
    if not m:
        raise IbenchError(f"{where}: cell {text!r} is not [SC, PQ]")
    sc, pq = float(m.group(1)), float(m.group(2))
    if sc not in LEVELS or pq not in LEVELS:
        raise IbenchError(f"{where}: cell {text!r} has a value outside 0, 0.5, 1")
    return sc, pq


def split_name(stem: str, task: Optional[str] = None) -> tuple[str, str]:
    """(task, rater) of a file stem ``<Task>_<rater>``; ``task`` (the folder name) disambiguates."""
    if task and stem.startswith(task + "_") and len(stem) > len(task) + 1:
        return task, stem[len(task) + 1:]
    head, sep, rater = stem.rpartition("_")
    if not sep or not head or not rater:
        raise IbenchError(f"{stem}.tsv: expected a name like <Task>_rater1.tsv")
    return head, rater


def read_tsv(text: str, name: str, task: Optional[str] = None) -> pd.DataFrame:
    """One rater's TSV as long rows (task, model, uid, rater, SC, PQ); ImagenHub's task names become ibench's."""
    task, rater = split_name(Path(name).stem, task)
    task = IMAGENHUB_TASKS.get(task, task)
    if "\x00" in text:
        raise IbenchError(f"{name}: contains a NUL byte (not a text TSV)")
    rows = [r for r in csv.reader(io.StringIO(text), delimiter="\t") if r]
    for n, row in enumerate(rows[1:], 2):
        if len(row) != len(rows[0]):
            raise IbenchError(f"{name} line {n}: {len(row)} fields, but the header has {len(rows[0])}")
    try:
        table = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise IbenchError(f"{name}: not a TSV ({exc})") from None
    if table.columns.empty or table.columns[0] != "uid" or len(table.columns) < 2:
        raise IbenchError(f"{name}: the first column must be 'uid', followed by one column per model")
    if table["uid"].duplicated().any():
        raise IbenchError(f"{name}: uid {table['uid'][table['uid'].duplicated()].iloc[0]!r} appears twice")
    parsed: dict[str, Optional[tuple[float, float]]] = {}  # each distinct cell text is parsed once
    models, rows = list(table.columns[1:]), []
    for uid, *cells in table.itertuples(index=False, name=None):
        for model, cell in zip(models, cells):
            if cell not in parsed:
                parsed[cell] = parse_cell(cell, f"{name} uid {uid} model {model}")
            if parsed[cell] is not None:
                rows.append((task, model, uid, rater, *parsed[cell]))
    return pd.DataFrame(rows, columns=LONG_COLUMNS)


def _text(data: bytes, name) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IbenchError(f"{name}: not UTF-8 text (byte {exc.start})") from None


def tsv_files(path: str | Path) -> list[tuple[Path, str]]:
    """(file, task) for a task folder of TSVs or a folder of task folders."""
    path = Path(path)
    if not path.is_dir():
        raise IbenchError(f"{path} is not a folder of ImagenHub rating TSVs")
    files = [(f, path.name) for f in sorted(path.glob("*.tsv"))]
    files += [(f, f.parent.name) for f in sorted(path.glob("*/*.tsv"))]
    if not files:
        raise IbenchError(f"{path}: no .tsv files (expected <Task>/<Task>_rater1.tsv, ...)")
    return files


def read_imagenhub(path: str | Path) -> pd.DataFrame:
    """Every rating in a folder of ImagenHub TSVs, long: task, model, uid, rater, SC, PQ."""
    frames = [read_tsv(_text(f.read_bytes(), f), f.name, task) for f, task in tsv_files(path)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LONG_COLUMNS)


def to_tsvs(frame: pd.DataFrame) -> dict[str, str]:
    """Long ratings (task, model, uid, rater, SC, PQ) -> {'<Task>/<Task>_<rater>.tsv': text}."""
    out: dict[str, str] = {}
    for task, by_task in frame.groupby("task", sort=True):
        models = sorted(by_task["model"].unique())
        uids = list(dict.fromkeys(by_task.sort_values("uid")["uid"]))
        for rater, group in by_task.groupby("rater", sort=True):
            cells = {(r.uid, r.model): f"[{_num(r.SC)},{_num(r.PQ)}]" for r in group.itertuples()}
            mine = [u for u in uids if any((u, m) in cells for m in models)]
            table = pd.DataFrame([[u, *[cells.get((u, m), "") for m in models]] for u in mine],
                                 columns=["uid", *models])
            out[f"{task}/{task}_{rater}.tsv"] = table.to_csv(sep="\t", index=False)
    return out


def _num(v: float) -> str:
    return "0.5" if float(v) == 0.5 else str(int(float(v)))


def write_imagenhub(frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write long ratings as ImagenHub TSVs under ``out_dir``."""
    written = []
    for rel, text in to_tsvs(frame).items():
        path = Path(out_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def zip_tsvs(frame: pd.DataFrame) -> bytes:
    """The TSVs in one zip (the admin page's download)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, text in to_tsvs(frame).items():
            z.writestr(rel, text)
    return buf.getvalue()


def _import(s: Session, study_name: Optional[str], create_name: str, frame: pd.DataFrame) -> tuple[str, int, int]:
    if study_name is None:
        study = s.scalars(select(Study).where(Study.name == create_name)).first()
        if study is None:
            study = Study(name=create_name, raters_per_item=int(frame.groupby(["task", "model", "uid"]).size().max()),
                          created=utcnow())
            s.add(study)
            s.flush()
    else:
        study = find_study(s, study_name)
    rows = list(frame.itertuples(index=False))
    items = {(i.task, i.model, i.uid): i for i in s.scalars(select(Item).where(Item.study_id == study.id))}
    raters = {r.name: r for r in s.scalars(select(Rater).where(Rater.study_id == study.id))}
    for row in rows:  # new items (no image: never shown to raters) and new raters (no token handed out)
        if (row.task, row.model, row.uid) not in items:
            items[(row.task, row.model, row.uid)] = Item(study_id=study.id, task=row.task, model=row.model,
                                                         run_id=imported_run_id(row.model), instance_id=row.uid,
                                                         sample=0, uid=row.uid)
        if row.rater not in raters:
            raters[row.rater] = Rater(study_id=study.id, name=row.rater, token_hash=token_hash(new_token()))
    s.add_all([*items.values(), *raters.values()])
    s.flush()
    in_study = select(Rater.id).where(Rater.study_id == study.id)
    assigned = {(a.rater_id, a.item_id): a
                for a in s.scalars(select(Assignment).where(Assignment.rater_id.in_(in_study)))}
    last = dict(s.execute(select(Assignment.rater_id, func.max(Assignment.position))
                          .where(Assignment.rater_id.in_(in_study)).group_by(Assignment.rater_id)).all())
    for row in rows:
        key = (raters[row.rater].id, items[(row.task, row.model, row.uid)].id)
        if key not in assigned:
            last[key[0]] = last.get(key[0], -1) + 1
            assigned[key] = Assignment(rater_id=key[0], item_id=key[1], position=last[key[0]])
            s.add(assigned[key])
    s.flush()
    current = {r.assignment_id: r for r in s.scalars(select(Rating).where(Rating.rater_id.in_(in_study)))}
    now, changed, unchanged = utcnow(), [], 0
    for row in rows:
        a = assigned[(raters[row.rater].id, items[(row.task, row.model, row.uid)].id)]
        sc, pq = float(row.SC), float(row.PQ)
        r = current.get(a.id)
        if r is not None and r.status == "rated" and r.sc == sc and r.pq == pq:
            unchanged += 1
            continue
        if r is None:
            r = current[a.id] = Rating(assignment_id=a.id, rater_id=a.rater_id, item_id=a.item_id, created=now,
                                       version=0)
            s.add(r)
        r.status, r.conditions, r.sc, r.pq, r.reason = "rated", [sc], sc, pq, IMPORT_NOTE
        r.version, r.updated = r.version + 1, now
        changed.append(r)
    s.flush()
    s.add_all([history_row(r, now) for r in changed])
    return study.name, len(changed), unchanged


def import_frame(db, frame: pd.DataFrame, study: Optional[str] = None,
                 name: Optional[str] = None) -> tuple[str, int, int]:
    """Import long ratings into ``study`` (existing) or a study called ``name``.

    Returns (study, ratings written, ratings already identical). Rows match existing items by
    (task, model, uid), so an exported study round-trips; other rows become items without an image
    (never shown to raters). A changed rating gets a new version in the history.
    """
    if frame.empty:
        raise IbenchError("no ratings to import")
    return write(get_engine(db), _import, study, name or "imagenhub", frame)


def import_imagenhub(db, path: str | Path, study: Optional[str] = None) -> tuple[str, int, int]:
    """Import a folder of ImagenHub TSVs (a study named ``imagenhub:<folder>`` unless ``study`` is given)."""
    return import_frame(db, read_imagenhub(path), study, name=f"imagenhub:{Path(path).resolve().name}")


def import_uploads(db, files: Iterable[tuple[str, bytes]], study: str,
                   task: Optional[str] = None) -> tuple[str, int, int]:
    """Import uploaded TSVs (name, bytes) into an existing study."""
    frames = [read_tsv(_text(data, name), name, task) for name, data in files]
    return import_frame(db, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), study)


def frame_for_export(ratings: pd.DataFrame) -> pd.DataFrame:
    """Rated rows of a ratings frame in the long ImagenHub shape."""
    rated = ratings[ratings["status"] == "rated"]
    return rated[LONG_COLUMNS]

