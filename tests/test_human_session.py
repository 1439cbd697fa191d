"""What a rater's actions do (``ibench.human_eval.session``) and what a study holds beyond its main
items (``ibench.human_eval.design``): times stored, skips re-queued, practice feedback, gold and
attention accuracy, pairwise verdicts as Preference records ranked by Bradley–Terry, stratified subsets."""

from __future__ import annotations

import json
from collections import Counter

import human_fixtures
import pandas as pd
import pytest
from ibench.errors import IbenchError
from ibench.human_eval import ratings, session
from ibench.human_eval.assignment import create_study, items_from_runs
from ibench.human_eval.design import pair_records, stratified_subset
from ibench.human_eval.store import Assignment, Item, Rating, get_engine, reading
from sqlalchemy import select

human_runs = human_fixtures.human_runs  # pytest fixture


def rater(engine, tokens, name="rater01"):  # noqa: ANN001, ANN201
    return ratings.sign_in(engine, tokens.raters[name])


def test_actions_save_times_requeue_skips_and_refuse_bad_input(human_runs, tmp_path):
    db = tmp_path / "s.db"
    tokens = create_study(str(db), human_runs, 1, raters_per_item=1, name="s")
    engine = get_engine(str(db))
    me = rater(engine, tokens)
    slots = ratings.queue(engine, me.rater_id)
    assert len(slots) == 6
    out = session.apply(engine, me, slots, 0, {"type": "save", "conditions": [1, 0.5, 1], "pq": 1, "ms": 2345})
    assert (out.pos, out.message, out.error) == (1, "Saved item 1: SC 0.5, PQ 1.", False)
    own = ratings.rater_item(engine, me.rater_id, slots[0].assignment_id).rating
    assert (own.sc, own.pq, own.conditions) == (0.5, 1.0, [1.0, 0.5, 1.0])
    with reading(engine) as s:
        assert s.scalar(select(Rating.seconds).where(Rating.assignment_id == slots[0].assignment_id)) == 2.345
    # incomplete answers and reasonless flags are refused where the rater is, nothing saved
    assert session.apply(engine, me, slots, 1, {"type": "save", "conditions": [1, None, 1], "pq": 1}).error
    flag = session.apply(engine, me, slots, 1, {"type": "flag", "reason": " "})
    assert flag.error and flag.pos == 1 and ratings.progress(engine, me.rater_id)["flagged"] == 0
    # skip: the item comes back once every other item is done
    assert session.apply(engine, me, slots, 1, {"type": "skip", "ms": 500}).pos == 2
    pos = 2
    for _ in range(4):
        slots = ratings.queue(engine, me.rater_id)
        pos = session.apply(engine, me, slots, pos, {"type": "save", "conditions": [1, 1, 1], "pq": 0.5}).pos
    assert pos == 1  # the skipped item, re-queued at the end
    slots = ratings.queue(engine, me.rater_id)
    done = session.apply(engine, me, slots, 1, {"type": "flag", "reason": "blank output"})
    assert done.pos is None and done.message == "Flagged item 2."
    # changing a rating keeps its history; going back and forth wraps
    slots = ratings.queue(engine, me.rater_id)
    again = session.apply(engine, me, slots, 0, {"type": "save", "conditions": [1, 1, 1], "pq": 1})
    assert again.message.endswith("(changed).")
    assert [(h.sc, h.pq) for h in ratings.history(engine, me.rater_id, slots[0].assignment_id)] == [(0.5, 1), (1, 1)]
    assert session.apply(engine, me, slots, 0, {"type": "go", "to": "prev"}).pos == 5
    assert session.apply(engine, me, slots, 5, {"type": "go", "to": "next"}).pos == 0
    assert session.apply(engine, me, slots, 0, {"type": "go", "to": 99}).error
    assert session.apply(engine, me, slots, 0, {"type": "dance"}).error


def _gold_file(tmp_path, records, picks, kind="absolute"):  # noqa: ANN001, ANN202
    lines = []
    for r, answer in picks:
        entry = {"task": r["task"], "instance_id": r["instance_id"], "sample": r["sample"], "note": "look at the dog"}
        if kind == "pairwise":
            entry.update(model_a=r["model"], model_b=r["model_b"], **answer)
        else:
            entry.update(model=r["model"], **answer)
        lines.append(json.dumps(entry))
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_practice_gold_and_attention_items_check_raters_and_never_count(human_runs, tmp_path):
    records = items_from_runs(human_runs)
    good = {"conditions": [1, 1, 1], "pq": 1}
    gold = _gold_file(tmp_path, records, [(records[0], good), (records[1], good), (records[2], good)])
    db = tmp_path / "s.db"
    tokens = create_study(str(db), human_runs, 2, raters_per_item=1, name="g", gold=gold, practice=1, attention=2)
    engine = get_engine(str(db))
    me = rater(engine, tokens)
    slots = ratings.queue(engine, me.rater_id)
    roles = Counter(s.role for s in slots)
    assert slots[0].role == "practice" and roles["practice"] == 1 and roles["gold"] == 2 and roles["attention"] == 2
    # practice: the known answer is shown once answered, and the rater stays on it
    item = ratings.rater_item(engine, me.rater_id, slots[0].assignment_id)
    assert item.expected == good and "Practice item" in item.notice and "look at the dog" in item.notice
    out = session.apply(engine, me, slots, 0, {"type": "save", "conditions": [1, 0.5, 1], "pq": 1})
    assert out.pos == 0 and "expected answer" in out.message
    # attention checks ask for one answer; answer the gold right, one attention check wrong
    for k, slot in enumerate(slots[1:], 1):
        it = ratings.rater_item(engine, me.rater_id, slot.assignment_id)
        with reading(engine) as s:
            expected = s.get(Item, s.get(Assignment, slot.assignment_id).item_id).expected
        if slot.role == "attention":
            assert it.notice.startswith("Attention check") and it.expected is None  # no answer shown
            answer = expected if k != [i for i, s in enumerate(slots) if s.role == "attention"][0] else \
                {"conditions": [0.5 if v != 0.5 else 1 for v in expected["conditions"]], "pq": expected["pq"]}
        elif slot.role == "gold":
            assert it.notice is None and it.expected is None  # hidden among the main items
            answer = good
        else:
            answer = {"conditions": [0.5] * len(it.checklist), "pq": 0.5}
        ratings.rate(engine, me.rater_id, slot.assignment_id, answer["conditions"], answer["pq"])
    from ibench.human_eval.monitor import accuracy_table

    acc = accuracy_table(engine, me.study_id).set_index("rater")
    assert (acc.at["rater01", "gold"], acc.at["rater01", "gold_correct"], acc.at["rater01", "gold_accuracy"]) == (2, 2, 1.0)
    assert (acc.at["rater01", "attention"], acc.at["rater01", "attention_passed"]) == (2, 1)
    assert acc.at["rater02", "gold"] == 0 and pd.isna(acc.at["rater02", "gold_accuracy"])
    # none of it reaches scores or exports: only main items, each rated 0.5/0.5
    from ibench.human_eval.aggregate import ratings_frame, study_summary

    frame = ratings_frame(engine)
    assert len(frame) == roles["main"] and set(frame["SC"]) == {0.5}
    assert (study_summary(engine)["SC_mean"] == 0.5).all()


def test_gold_file_errors_name_the_item(human_runs, tmp_path):
    records = items_from_runs(human_runs)
    bad = _gold_file(tmp_path, records, [(records[0], {"conditions": [1, 1], "pq": 1})])
    with pytest.raises(IbenchError, match=r"gold.jsonl item 1: needs `conditions`.*3 conditions"):
        create_study(str(tmp_path / "a.db"), human_runs, 2, raters_per_item=1, gold=bad)
    (tmp_path / "missing.jsonl").write_text(json.dumps({"task": "style_subject", "instance_id": "nope",
                                                        "model": "tiny", "conditions": [1], "pq": 1}) + "\n")
    with pytest.raises(IbenchError, match=r"missing.jsonl item 1: no output of this study has .*'nope'"):
        create_study(str(tmp_path / "b.db"), human_runs, 2, raters_per_item=1, gold=tmp_path / "missing.jsonl")
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(IbenchError, match=r"broken.jsonl: line 1 is not JSON"):
        create_study(str(tmp_path / "c.db"), human_runs, 2, raters_per_item=1, gold=tmp_path / "broken.jsonl")


def test_pairwise_study_writes_preferences_and_ranks_them(human_runs, tmp_path):
    from ibench.human_eval.pairwise import preferences, rankings
    from ibench.ranking import bradley_terry

    db = tmp_path / "p.db"
    tokens = create_study(str(db), human_runs, 4, raters_per_item=2, name="pw", kind="pairwise")
    engine = get_engine(str(db))
    with reading(engine) as s:
        items = s.scalars(select(Item)).all()
        orders = Counter(a.pair_order for a in s.scalars(select(Assignment)))
    assert len(items) == 3 and all(i.model == "references" and i.model_b == "tiny" for i in items)
    assert orders["ab"] == orders["ba"] == 3  # each rater's presentation orders balanced
    seen_left = set()
    for name in tokens.raters:
        me = rater(engine, tokens, name)
        assert me.kind == "pairwise"
        slots = ratings.queue(engine, me.rater_id)
        for k, slot in enumerate(slots):
            item = ratings.rater_item(engine, me.rater_id, slot.assignment_id)
            assert item.kind == "pairwise" and item.image and item.image_b and item.image != item.image_b
            real_left = "references" if "references" in item.image else "tiny"
            seen_left.add(real_left)
            side = "left" if real_left == "references" else "right"  # the raters prefer the real images ...
            choice = {"sc": side, "pq": "tie" if k == 0 else side}  # ... on quality too, but for one tie each
            out = session.apply(engine, me, slots, k, {"type": "save", "choice": choice, "ms": 1000})
            assert not out.error and out.message.startswith(f"Saved item {k + 1}: PQ ")
    assert seen_left == {"references", "tiny"}  # both orders were shown
    prefs = preferences(engine)
    assert len(prefs) == 3 * 2 * 2  # items x raters per item x aspects
    assert {p.winner for p in prefs if p.aspect == "sc"} == {"a"}  # model A (references) won, wherever it was shown
    assert all(p.judge.startswith("human:rater") and p.model_a == "references" for p in prefs)
    assert {p.order for p in prefs} == {"ab", "ba"}
    table = rankings(prefs, resamples=100)
    sc = table[table["aspect"] == "sc"].set_index("model")
    assert sc.at["references", "rank"] == 1 and sc.at["references", "wins"] == 6 and sc.at["tiny", "losses"] == 6
    direct = bradley_terry([p for p in prefs if p.aspect == "sc"], resamples=100)
    assert sc.at["references", "theta"] == pytest.approx(direct.set_index("model").at["references", "theta"])
    pq = table[table["aspect"] == "pq"].set_index("model")
    assert pq.at["references", "ties"] == 4 and 0 <= pq.at["references", "first_wins"] <= 1
    # absolute scores and ImagenHub exports hold no pairwise verdicts
    from ibench.human_eval.aggregate import ratings_frame

    assert ratings_frame(engine).empty
    with pytest.raises(IbenchError, match="two or more runs of the same task"):
        create_study(str(tmp_path / "one.db"), human_runs[:1], 2, raters_per_item=1, kind="pairwise")


def test_stratified_subset_spreads_over_tasks_and_keeps_models_paired(human_runs):
    records = items_from_runs(human_runs)  # 3 instances x 1 sample x 2 models, one task
    fake = records + [{**r, "task": "other", "instance_id": f"o{k // 2}"} for k, r in enumerate(records * 3)]
    picked = stratified_subset(fake, 8, "seed")
    by_task = Counter(r["task"] for r in picked)
    assert by_task == {"style_subject": 4, "other": 4}  # even over tasks
    keys = Counter((r["task"], r["instance_id"], r["sample"]) for r in picked)
    assert set(keys.values()) == {2}  # every model's output of a drawn instance
    assert stratified_subset(fake, 8, "seed") == picked and stratified_subset(fake, 8, "other") != picked
    assert len(stratified_subset(fake, 10_000, "seed")) == len(fake)
    pairs = pair_records(records)
    assert len(stratified_subset(pairs, 2, "seed")) == 2
