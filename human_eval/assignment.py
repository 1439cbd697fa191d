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
from typing import Optional, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ibench.errors import IbenchError
from ibench.core.labels import LabelKey, labels
from ibench.core.rundir import RunStore

from .design import attention_records, balanced_orders, gold_records, pair_records, practice_from, stratified_subset
from .store import KINDS, Assignment, Item, Rater, Study, get_engine, token_hash, utcnow, write

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.@+-]*$")


@dataclass
class StudyTokens:
    """What a new study's creator must hand out: one token per rater and the admin token."""

    study: str
    raters: dict[str, str]
    admin: str
    items: int
    assignments: int

    def text(self, url: Optional[str] = None) -> str:
        """Tab-separated name and token per line; with ``url`` (where the app is served) each rater's
        sign-in link too (the app reads the token from the link, then drops it from the address bar)."""
        lines = [f"study {self.study}: {self.items} items, {self.assignments} assignments",
                 f"admin\t{self.admin}"]
        lines += [f"{name}\t{token}" + (f"\t{sign_in_link(url, token)}" if url else "")
                  for name, token in self.raters.items()]
        return "\n".join(lines) + "\n"


def sign_in_link(url: str, token: str) -> str:
    from urllib.parse import quote

    return f"{url.rstrip('/')}/?token={quote(token)}"


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


ITEM_FIELDS = {c.key for c in Item.__table__.columns} - {"id", "study_id"}


def _insert(s: Session, name: str, k: int, seed: int, kind: str, instructions: Optional[str], records: list[dict],
            queues: dict[str, list[tuple[int, Optional[str]]]], tokens: dict[str, str], admin: str) -> int:
    if s.scalars(select(Study).where(Study.name == name)).first() is not None:
        raise IbenchError(f"study {name!r} already exists in this database; pick another --name")
    study = Study(name=name, raters_per_item=k, seed=seed, created=utcnow(), kind=kind, instructions=instructions)
    s.add(study)
    s.flush()
    items = [Item(study_id=study.id, **{f: v for f, v in r.items() if f in ITEM_FIELDS}) for r in records]
    s.add_all(items)
    s.add(Rater(study_id=study.id, name="admin", token_hash=token_hash(admin), is_admin=True))
    raters = {n: Rater(study_id=study.id, name=n, token_hash=token_hash(t)) for n, t in tokens.items()}
    s.add_all(raters.values())
    s.flush()
    n = 0
    for rname, order in queues.items():
        for pos, (i, pair_order) in enumerate(order):
            s.add(Assignment(rater_id=raters[rname].id, item_id=items[i].id, position=pos, pair_order=pair_order))
            n += 1
    return n


def _queues(main: list[dict], plan: dict[str, list[int]], practice: list[dict], gold: list[dict],
            attention: dict[str, list[dict]], kind: str, seed: str) -> tuple[list[dict], dict]:
    """All item records and, per rater, (record index, pairwise order) in queue order: practice first,
    then the main items with the gold items and this rater's attention checks shuffled in."""
    records = [*main, *practice, *gold, *[a for mine in attention.values() for a in mine]]
    first_practice, first_gold = len(main), len(main) + len(practice)
    first_attention = {}
    at = first_gold + len(gold)
    for name, mine in attention.items():
        first_attention[name] = at
        at += len(mine)
    rng = random.Random(seed)
    queues = {}
    for name, mine in plan.items():
        body = [*mine, *range(first_gold, first_gold + len(gold)),
                *range(first_attention[name], first_attention[name] + len(attention[name]))]
        rng.shuffle(body)
        order = [*range(first_practice, first_gold), *body]
        pairs = balanced_orders(len(order), rng) if kind == "pairwise" else [None] * len(order)
        queues[name] = list(zip(order, pairs))
    return records, queues


def create_study(db, runs: Sequence[str | Path], raters: int | Sequence[str], raters_per_item: int = 3,
                 name: str | None = None, seed: int = 0, kind: str = "absolute", items: Optional[int] = None,
                 gold: Optional[Path] = None, practice: int = 0, attention: int = 0,
                 instructions: Optional[str] = None) -> StudyTokens:
    """Create a study from runs; returns the plaintext tokens (only their hashes are stored).

    ``kind``: ``absolute`` (SC/PQ per output) or ``pairwise`` (two outputs of one instance side by
    side); ``items``: a stratified subset; ``gold``, ``practice``, ``attention``: see ``design``."""
    engine: Engine = get_engine(db)
    if not runs:
        raise IbenchError("give at least one run directory")
    if kind not in KINDS:
        raise IbenchError(f"--kind {kind!r}: choose {' or '.join(KINDS)}")
    names = rater_names(raters)
    name = name or f"study-{utcnow():%Y%m%d-%H%M%S}"
    seed_text = f"ibench-study:{name}:{seed}"
    every = items_from_runs(runs)
    pool = pair_records(every) if kind == "pairwise" else every
    records = stratified_subset(pool, items, seed_text) if items is not None else pool
    known = gold_records(gold, pool, kind) if gold else []
    practice_items, hidden = practice_from(known, records, practice, seed_text + ":practice")
    checks = attention_records(records, names, attention, kind, seed_text + ":attention")
    plan = plan_assignments(records, names, raters_per_item, seed_text)
    all_records, queues = _queues(records, plan, practice_items, hidden, checks, kind, seed_text + ":queue")
    tokens = {n: new_token() for n in names}
    admin = new_token()
    count = write(engine, _insert, name, raters_per_item, seed, kind, instructions, all_records, queues, tokens, admin)
    return StudyTokens(name, tokens, admin, len(records), count)
