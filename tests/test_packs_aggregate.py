"""The anchors' aggregations on constructed verdicts, each checked against the anchor's own formula
(transcribed here from the cited lines, or computed independently with pandas), and VIEScore's on its
released per-image verdicts."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from ibench.errors import IbenchError
from ibench.packs import dreambench_plus, gedit, imagenhub, omnicontext


# -- DreamBench++: yuangpeng/dreambench_plus@66ca27e ----------------------------------------------------------

def anchor_cal_score(data: dict, filter=None) -> float:
    """benchmarking.py:10-26, as written there."""
    if filter is not None:
        new_data = {}
        for k, v in data.items():
            if filter in k:
                new_data[k] = v
            elif filter == "photorealistic" and 0 <= int(k.split("-")[-1]) <= 3:
                new_data[k] = v
            elif filter == "style_transfer" and 4 <= int(k.split("-")[-1]) <= 6:
                new_data[k] = v
            elif filter == "imaginative" and 7 <= int(k.split("-")[-1]) <= 8:
                new_data[k] = v
        data = new_data
    return sum(data.values()) / len(data) / 4


def anchor_avg_std(data: list) -> tuple[float, float]:
    """utils/misc.py:87-90 (rounded to 3 places there; unrounded here, compared to 1e-12)."""
    avg = sum(data) / len(data)
    return avg, math.sqrt(sum((x - avg) ** 2 for x in data) / (len(data) - 1))


@pytest.fixture(scope="module")
def dreambench_verdicts():
    rng = random.Random(7)
    ids = ["live_subject_animal_00_kitten", "live_subject_human_01_woman", "object_03_rolls-royce_hood_ornament",
           "style_01_ukiyo-e"]
    runs = ("full", "full2", "full3")  # benchmarking.py:69
    records = [{"collection_id": c, "prompt_index": i, "aspect": a, "repeat": runs[r], "score": rng.randint(0, 4)}
               for c in ids for i in range(9) for a in ("cp", "pf") for r in range(3)]
    files = {a: [{f"{x['collection_id']}-{x['prompt_index']}": x["score"] for x in records
                  if x["aspect"] == a and x["repeat"] == rep} for rep in runs] for a in ("cp", "pf")}
    return records, files


def test_dreambench_plus_equals_the_anchors_benchmarking_table(dreambench_verdicts):
    records, files = dreambench_verdicts
    got = dreambench_plus.aggregate(records)
    for aspect in ("cp", "pf"):  # benchmarking.py:69-83 and :89-102: cal_score per run, then avg_std
        avg, std = anchor_avg_std([anchor_cal_score(f) for f in files[aspect]])
        assert got[aspect]["mean"] == pytest.approx(avg, abs=1e-12) and got[aspect]["std"] == pytest.approx(std, abs=1e-12)
    for aspect, names in (("cp", ("animal", "human", "object", "style")),
                          ("pf", ("photorealistic", "style_transfer", "imaginative"))):
        for name in names:
            want = anchor_avg_std([anchor_cal_score(f, name) for f in files[aspect]])[0]
            assert got[f"{aspect}_by"][name]["mean"] == pytest.approx(want)
    # benchmarking.py:149 multiplies the printed (3-decimal) means
    assert got["cp_x_pf"] == round(got["cp"]["mean"], 3) * round(got["pf"]["mean"], 3)
    assert got["samples"] == {"cp": 108, "pf": 108} and got["failed"] == {"cp": 0, "pf": 0}


def test_dreambench_plus_by_hand_and_failures():
    rec = [{"collection_id": "object_00_cup", "prompt_index": i, "aspect": "cp", "repeat": 0, "score": s}
           for i, s in enumerate([4, 2, None])]
    got = dreambench_plus.aggregate(rec)
    assert got["cp"]["mean"] == 0.75 and got["cp"]["std"] is None  # (4 + 2) / 2 / 4; one run: no std
    assert got["failed"]["cp"] == 1 and got["pf"]["mean"] is None and got["cp_x_pf"] is None
    two_runs = rec + [{**rec[2], "repeat": 1, "score": 3}, {**rec[0], "aspect": "pf", "score": 1}]
    assert dreambench_plus.counts(dreambench_plus.aggregate(two_runs)) == {"cp": 3, "pf": 1, "cp_x_pf": 1}
    with pytest.raises(IbenchError, match="not an integer 0-4"):
        dreambench_plus.aggregate([{**rec[0], "score": 5}])


# -- OmniContext: VectorSpaceLab/OmniGen2@0f72fa9, omnicontext/calculate_statistics.py -------------------------

def test_omnicontext_equals_the_mean_of_task_means_of_sqrt_pf_sc():
    rng = np.random.default_rng(3)
    tasks = ["single_character", "single_object", "multiple_character", "scene_character_object"]
    rows = [{"key": f"{t}-{i}", "task_type": t, "language": lang, "pf": int(rng.integers(0, 11)),
             "sc": int(rng.integers(0, 11))}
            for t in tasks for i in range(int(rng.integers(3, 9))) for lang in ("en", "zh")]
    got = omnicontext.aggregate(rows, language="en")
    df = pd.DataFrame(rows)
    df = df[df.language == "en"].assign(o=lambda d: np.sqrt(d.pf * d.sc))  # :22-27
    per = df.groupby("task_type")[["pf", "sc", "o"]].mean()  # :33-35
    for task, row in per.iterrows():
        assert got["tasks"][task]["o"] == pytest.approx(row.o) and got["tasks"][task]["pf"] == pytest.approx(row.pf)
    assert got["average"]["o"] == pytest.approx(per.o.mean())  # :66
    assert got["average"]["sc"] == pytest.approx(per.sc.mean())
    assert omnicontext.counts({"en": got})["en/o"] == len(df)  # the English samples the headline is over
    # not the pooled mean over samples: unequal task sizes make the two differ
    assert got["average"]["o"] != pytest.approx(df.o.mean(), abs=1e-9)


def test_omnicontext_counts_failures_and_refuses_a_task_without_scores():
    rows = [{"key": "1", "task_type": "a", "language": "en", "pf": 9, "sc": 4},
            {"key": "2", "task_type": "a", "language": "en", "pf": None, "sc": 4},
            {"key": "3", "task_type": "b", "language": "en", "pf": None, "sc": None}]
    got = omnicontext.aggregate(rows)
    assert got["tasks"]["a"]["o"] == 6.0 and got["failed"] == 2
    assert got["tasks"]["b"] is None and got["average"] is None  # the anchor's mean would be NaN


# -- GEdit-Bench: stepfun-ai/Step1X-Edit@570eba6, GEdit-Bench/calculate_statistics.py ---------------------------

def test_gedit_full_set_and_intersection_equal_the_anchors_tables():
    rng = np.random.default_rng(11)
    rows = []
    for g in gedit.GROUPS:
        for i in range(int(rng.integers(2, 6))):
            for lang in ("en", "cn"):
                rows.append({"key": f"{g}{i}", "task_type": g, "language": lang, "intersection": bool(i % 2 == 0),
                             "sc": [int(rng.integers(0, 11)), int(rng.integers(0, 11))],
                             "pq": [int(rng.integers(0, 11)), int(rng.integers(0, 11))]})
    got = gedit.aggregate(rows, language="en")
    df = pd.DataFrame(rows)
    # the sub-scores' minimum: viescore/__init__.py:92-93
    df = df[df.language == "en"].assign(sc=lambda d: d.sc.map(min), pq=lambda d: d.pq.map(min))
    df["o"] = np.sqrt(df.sc * df.pq)  # :56
    for name, part in (("full", df), ("intersection", df[df.intersection])):  # :61-64
        per = part.groupby("task_type")[["sc", "pq", "o"]].mean()  # :66-78
        assert got[name]["o"] == pytest.approx(per.loc[list(gedit.GROUPS), "o"].mean())  # :107-117
        assert got[name]["sc"] == pytest.approx(per.sc.mean()) and got[name]["pq"] == pytest.approx(per.pq.mean())
        assert got[name]["categories"]["ps_human"]["o"] == pytest.approx(per.loc["ps_human", "o"])
    assert got["full"]["o"] != pytest.approx(got["intersection"]["o"], abs=1e-9)


def test_gedit_ignores_unknown_categories_and_needs_all_eleven():
    rows = [{"key": "k", "task_type": g, "language": "en", "intersection": True, "sc": 8, "pq": [6, 9]}
            for g in gedit.GROUPS[:-1]] + [{"key": "x", "task_type": "other", "language": "en", "intersection": True,
                                            "sc": 1, "pq": 1}]
    got = gedit.aggregate(rows)
    assert got["ignored"] == 1 and got["full"]["o"] is None  # tone_transfer has no sample
    assert got["full"]["categories"]["color_alter"]["o"] == pytest.approx(math.sqrt(48))
    with pytest.raises(IbenchError, match="not a score"):
        gedit.aggregate([{**rows[0], "sc": [11, 3]}])


# -- VIEScore (ImagenHub): TIGER-AI-Lab/VIEScore@2cbea4e, paper_implementation/analyze_json.ipynb --------------

def anchor_statistics(sc: dict, pq: dict) -> tuple[float, float, float, float]:
    """analyze_json.ipynb: align_dicts, get_statistics(preprocess) and get_O_from_two_lists (mapping off)."""
    keys = sorted(set(sc) & set(pq))
    unit = [lambda s: min(1.0, max(0.0, (s if isinstance(s, (int, float)) else min(int(v) for v in s)) / 10.0))]
    s, q = [unit[0](sc[k]) for k in keys], [unit[0](pq[k]) for k in keys]
    o = [math.sqrt(a * b) for a, b in zip(s, q)]
    return float(np.mean(s)), float(np.mean(q)), float(np.mean(o)), float(np.std(o))


@pytest.mark.parametrize("task", ["ImagenHub_Text-Guided_IE", "ImagenHub_Multi-Concept_IC"])
def test_viescore_on_its_released_gpt4o_verdicts(shared_data, task):
    folder = shared_data / "viescore" / "_answers" / "results_gpt4o_0shot" / task
    model = sorted(p.name for p in folder.iterdir())[0]
    sc = {k: v["score"] for k, v in json.loads((folder / model / "SC.json").read_text()).items()}
    pq = {k: v["score"] for k, v in json.loads((folder / model / "PQ.json").read_text()).items()}
    got = imagenhub.viescore(sc, pq)
    want = anchor_statistics(sc, pq)
    assert (got["sc"], got["pq"], got["o"], got["o_std"]) == pytest.approx(want)
    assert got["n"] == len(set(sc) & set(pq)) > 10


def test_viescore_failures_are_counted_not_scored():
    got = imagenhub.aggregate([{"subset": "text_guided_ie", "uid": "a", "sc": [8, 6], "pq": [10, 9]},
                               {"subset": "text_guided_ie", "uid": "b", "sc": None, "pq": [1, 1]}])
    assert got["text_guided_ie"]["n"] == 1 and got["text_guided_ie"]["failed"] == 1
    assert got["text_guided_ie"]["o"] == pytest.approx(math.sqrt(0.6 * 0.9))
