"""Studies, assignments, ratings with history, and 16 raters saving at once (SQLite file and PostgreSQL)."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

import human_fixtures
import pytest
from human_fixtures import make_study
from ibench.human_eval import ratings
from ibench.human_eval.assignment import plan_assignments
from ibench.human_eval.store import (
    Assignment,
    Item,
    Rater,
    Rating,
    RatingHistory,
    get_engine,
    new_engine,
    reading,
)
from sqlalchemy import func, select

from ibench.errors import IbenchError

human_runs, study = human_fixtures.human_runs, human_fixtures.study  # pytest fixtures
from postgres_server import postgres_server, postgres_url  # noqa: E402,F401  (pytest fixtures)


def test_study_items_and_assignments(study):
    db, tokens = study
    engine = get_engine(str(db))
    with reading(engine) as s:
        items = s.scalars(select(Item)).all()
        assert sorted({i.model for i in items}) == ["references", "tiny"]
        assert len(items) == 6 and all(i.image and i.instance["checklist"] for i in items)
        raters = {r.id: r.name for r in s.scalars(select(Rater).where(Rater.is_admin.is_(False)))}
        rows = s.execute(select(Assignment.rater_id, Item.id, Item.instance_id, Item.model, Assignment.position)
                         .join(Item, Item.id == Assignment.item_id)).all()
    per_item = defaultdict(set)
    per_instance = defaultdict(lambda: defaultdict(set))
    for rater, item, inst, model, _ in rows:
        per_item[item].add(rater)
        per_instance[inst][rater].add(model)
    assert all(len(r) == 3 for r in per_item.values())  # k distinct raters per item
    for inst, by_rater in per_instance.items():  # a rater rates every model's output of an instance
        assert len(by_rater) == 3 and all(models == {"tiny", "references"} for models in by_rater.values())
    assert set(tokens.raters) == set(raters.values()) and len(set(tokens.raters.values())) == 4
    assert ratings.sign_in(engine, tokens.admin).is_admin
    assert ratings.sign_in(engine, "not-a-token") is None


def test_order_is_shuffled_per_rater_and_load_balanced():
    records = [{"task": "t", "instance_id": f"i{i // 2}", "model": m} for i, m in
               enumerate(["a", "b"] * 20)]
    plan = plan_assignments(records, ["r1", "r2", "r3", "r4", "r5"], 3, "seed")
    assert sorted(len(v) for v in plan.values())[-1] - sorted(len(v) for v in plan.values())[0] <= 2
    orders = [tuple(records[i]["instance_id"] for i in v) for v in plan.values()]
    assert len(set(orders)) == len(orders)  # not the same order for everyone
    assert any(o != tuple(sorted(o, key=lambda x: int(x[1:]))) for o in orders)
    with pytest.raises(IbenchError, match="needs at least 3 raters"):
        plan_assignments(records, ["r1", "r2"], 3, "seed")


def test_create_study_errors(human_runs, tmp_path):
    db = tmp_path / "r.db"
    make_study(db, human_runs, name="one")
    with pytest.raises(IbenchError, match="already exists"):
        make_study(db, human_runs, name="one")
    with pytest.raises(IbenchError, match="given twice"):
        make_study(db, [human_runs[0], human_runs[0]], name="two")
    with pytest.raises(IbenchError, match="not an ibench run"):
        make_study(db, [tmp_path], name="three")
    with pytest.raises(IbenchError, match="rater name"):
        make_study(db, human_runs, raters=["ok", "has space", "x"], name="four")


def test_rate_change_skip_flag_keep_history(study):
    db, tokens = study
    engine = get_engine(str(db))
    me = ratings.sign_in(engine, tokens.raters["rater01"])
    slots = ratings.queue(engine, me.rater_id)
    a, b, c = (x.assignment_id for x in slots[:3])
    assert ratings.rate(engine, me.rater_id, a, [1, 0.5, 1], 1) == 1
    assert ratings.rate(engine, me.rater_id, a, [1, 1, 1], 0.5) == 2  # changed
    hist = ratings.history(engine, me.rater_id, a)
    assert [(h.sc, h.pq, h.version) for h in hist] == [(0.5, 1.0, 1), (1.0, 0.5, 2)]
    ratings.skip(engine, me.rater_id, b, "too dark to judge")
    with pytest.raises(IbenchError, match="needs a reason"):
        ratings.flag(engine, me.rater_id, c, "  ")
    ratings.flag(engine, me.rater_id, c, "offensive content")
    with pytest.raises(IbenchError, match="one of 0, 0.5, 1"):
        ratings.rate(engine, me.rater_id, c, [0.7], 1)
    assert ratings.progress(engine, me.rater_id) == {"total": len(slots), "rated": 1, "skipped": 1, "flagged": 1,
                                                      "open": len(slots) - 3}
    other = ratings.sign_in(engine, tokens.raters["rater02"])
    with pytest.raises(IbenchError, match="not assigned to this rater"):
        ratings.rate(engine, other.rater_id, a, [0], 0)
    assert ratings.count_ratings(engine) == (3, 4)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sixteen_raters_at_once_lose_and_duplicate_nothing(human_runs, tmp_path, backend, request):
    db = tmp_path / "busy.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    tokens = make_study(db, human_runs, raters=16, k=16, name="busy")  # everyone rates every item
    engines = [new_engine(str(db)) for _ in range(16)]  # one connection pool per rater: real contention
    idents = [ratings.sign_in(engines[0], t) for t in tokens.raters.values()]
    barrier = threading.Barrier(16)
    expected: dict[int, tuple[float, float]] = {}
    saves = Counter()
    errors: list[BaseException] = []

    def rater(k: int) -> None:
        engine, me, rng = engines[k], idents[k], random.Random(k)
        try:
            slots = ratings.queue(engine, me.rater_id)
            barrier.wait()
            for rnd in range(2):  # rate everything, then change every rating once
                for slot in slots:
                    sc, pq = rng.choice((0, 0.5, 1)), rng.choice((0, 0.5, 1))
                    ratings.rate(engine, me.rater_id, slot.assignment_id, [1, sc, 1], pq)
                    expected[slot.assignment_id] = (float(sc), float(pq))
                    saves[me.rater_id] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=rater, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:1]
    engine = get_engine(str(db))
    with reading(engine) as s:
        n_assign = s.scalar(select(func.count()).select_from(Assignment))
        rows = s.execute(select(Rating.assignment_id, Rating.sc, Rating.pq, Rating.version)).all()
        n_hist = s.scalar(select(func.count()).select_from(RatingHistory))
    assert n_assign == 16 * 6 and len(rows) == n_assign  # none lost
    assert len({r.assignment_id for r in rows}) == len(rows)  # none duplicated
    assert {r.assignment_id: (r.sc, r.pq) for r in rows} == expected  # the last save of each wins
    assert all(r.version == 2 for r in rows) and n_hist == sum(saves.values()) == 2 * n_assign
    for e in engines:
        e.dispose()
