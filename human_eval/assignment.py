"""Making a study from runs: items (instance x model output), raters with tokens, assignments.

Each instance's outputs (every model, every sample) go to the same k distinct raters, as in the
paper, chosen to balance the raters' load; each rater's order is shuffled; model names stay in the
database and are never shown to raters.
"""

from __future__ import annotations

import random
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ibench.errors import IbenchError
from ibench.core.labels import LabelKey, labels
from ibench.core.rundir import RunStore

from .store import Assignment, Item, Rater, Study, get_engine, token_hash, utcnow, write

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.@+-]*$")


@dataclass
class StudyTokens:
    """What a new study's creator must hand out: one token per rater and the admin token."""

    study: str
    raters: dict[str, str]
    admin: str
    items: int
    assignments: int

    def text(self) -> str:
        lines = [f"study {self.study}: {self.items} items, {self.assignments} assignments",
                 f"admin\t{self.admin}"]
        lines += [f"{name}\t{token}" for name, token in self.raters.items()]
        return "\n".join(lines) + "\n"


def new_token() -> str:
    return secrets.token_urlsafe(12)


def rater_names(raters: int | Sequence[str]) -> list[str]:
    """Names for ``--raters N`` (rater01, ...) or the given ``--rater`` names, checked."""
    if isinstance(raters, int):
        if raters < 1:
            raise IbenchError("--raters must be at least 1")
        return [f"rater{i + 1:02d}" for i in range(raters)]
    names = [str(n).strip() for n in raters]
    for n in names:
        if not NAME.match(n):
            raise IbenchError(f"rater name {n!r}: use letters, digits, '.', '-', '+' or '@' (no spaces or '_')")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise IbenchError(f"rater name {dupes[0]!r} is given twice")
    if not names:
        raise IbenchError("give --raters N or at least one --rater NAME")
    return names


def items_from_runs(runs: Sequence[str | Path]) -> list[dict]:
    """One item record per successful generation of each run; models named by the one labelling rule."""
    records, stores = [], {}
    for path in runs:
        store = RunStore(path)
        rid = store.manifest().run_id
        if rid in stores:
            raise IbenchError(f"run {rid} is given twice")
        stores[rid] = store
    named = labels(LabelKey.of(s.manifest()) for s in stores.values())
    for rid, store in stores.items():
        manifest = store.manifest()
        task, model = manifest.identity.task, named[rid]
        instances = {i.id: i for i in store.instances()}
        gens = [g for g in store.generations() if g.ok and g.instance_id in instances]
        if not gens:
            raise IbenchError(f"run {store.path} has no generated image to rate")
        for g in gens:
            image = (store.path / g.image).resolve()
            if not image.is_file():
                raise IbenchError(f"run {store.path}: image {g.image} is missing")
            records.append(dict(task=task, model=model, run_id=rid, instance_id=g.instance_id, sample=g.sample,
                                uid=f"{g.instance_id}/{g.sample}", image=str(image),
                                instance=instances[g.instance_id].model_dump(mode="json"),
                                data_root=manifest.data_root, derived_dir=manifest.derived_dir))
    return records


def plan_assignments(records: list[dict], names: list[str], k: int, seed: str) -> dict[str, list[int]]:
    """For each rater, the indices of the records they rate, in their own shuffled order."""
    if k < 1:
        raise IbenchError("--raters-per-item must be at least 1")
    if k > len(names):
        raise IbenchError(f"--raters-per-item {k} needs at least {k} raters (got {len(names)})")
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        groups[(r["task"], r["instance_id"])].append(i)
    keys = sorted(groups)
    rng.shuffle(keys)
    load = {n: 0 for n in names}
    out: dict[str, list[int]] = {n: [] for n in names}
    for key in keys:
        chosen = sorted(names, key=lambda n: (load[n], rng.random()))[:k]
        for n in chosen:
            out[n] += groups[key]
            load[n] += len(groups[key])
    for n in names:
        rng.shuffle(out[n])
    return out


def _insert(s: Session, name: str, k: int, seed: int, records: list[dict], plan: dict[str, list[int]],
            tokens: dict[str, str], admin: str) -> int:
    if s.scalars(select(Study).where(Study.name == name)).first() is not None:
        raise IbenchError(f"study {name!r} already exists in this database; pick another --name")
    study = Study(name=name, raters_per_item=k, seed=seed, created=utcnow())
    s.add(study)
    s.flush()
    items = [Item(study_id=study.id, **r) for r in records]
    s.add_all(items)
    s.add(Rater(study_id=study.id, name="admin", token_hash=token_hash(admin), is_admin=True))
    raters = {n: Rater(study_id=study.id, name=n, token_hash=token_hash(t)) for n, t in tokens.items()}
    s.add_all(raters.values())
    s.flush()
    n = 0
    for rname, order in plan.items():
        for pos, i in enumerate(order):
            s.add(Assignment(rater_id=raters[rname].id, item_id=items[i].id, position=pos))
            n += 1
    return n


def create_study(db, runs: Sequence[str | Path], raters: int | Sequence[str], raters_per_item: int = 3,
                 name: str | None = None, seed: int = 0) -> StudyTokens:
    """Create a study from runs; returns the plaintext tokens (only their hashes are stored)."""
    engine: Engine = get_engine(db)
    if not runs:
        raise IbenchError("give at least one run directory")
    names = rater_names(raters)
    records = items_from_runs(runs)
    name = name or f"study-{utcnow():%Y%m%d-%H%M%S}"
    plan = plan_assignments(records, names, raters_per_item, f"ibench-study:{name}:{seed}")
    tokens = {n: new_token() for n in names}
    admin = new_token()
    count = write(engine, _insert, name, raters_per_item, seed, records, plan, tokens, admin)
    return StudyTokens(name, tokens, admin, len(records), count)
