"""Published tables reproduced from the anchors' released per-sample verdicts.

VIEScore (the ImagenHub pack's judge protocol) released every judge's per-image answers (``_answers``,
../shared/data/viescore) and printed, in its analysis notebook, the per-model SC, PQ and O of its Gemini
judge over them (tests/data/viescore_notebook_gemini.tsv, copied from that output with its source). ibench's
aggregation (``ibench.packs.imagenhub.viescore``) on the released answers gives every one of the 29 rows: the
count, and the means and standard deviations to the 4 decimals printed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ibench.packs import imagenhub

TABLE = Path(__file__).parent / "data" / "viescore_notebook_gemini.tsv"


def rows() -> list[dict]:
    lines = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def printed(x: float) -> float:
    """As the notebook prints a figure: ``sigfig`` formats it with '{:#.4f}' and reads it back."""
    return float("{:#.4f}".format(x))


def test_the_notebook_table_has_every_released_gemini_model():
    got = rows()
    assert len(got) == 29 and len({(r["task"], r["model"]) for r in got}) == 29


def test_viescore_gemini_table_follows_from_the_released_answers(shared_data):
    folder = shared_data / "viescore" / "_answers" / "results_gemini_0shot"
    for row in rows():
        answers = folder / row["task"] / row["model"]
        sc = {k: v["score"] for k, v in json.loads((answers / "SC.json").read_text()).items()}
        pq = {k: v["score"] for k, v in json.loads((answers / "PQ.json").read_text()).items()}
        got = imagenhub.viescore(sc, pq)
        assert got["n"] == int(row["n"]), row
        for part in ("sc", "pq", "o"):
            assert printed(got[part]) == float(row[f"{part.upper()}_mean"]), (row, part)
            assert printed(got[f"{part}_std"]) == pytest.approx(float(row[f"{part.upper()}_std"]), abs=1e-9), (row, part)


def test_the_imagenhub_packs_published_rows_are_the_notebooks():
    from ibench.packs import get_pack

    subsets = {"ImagenHub_Text-Guided_IE": "text_guided_ie", "ImagenHub_Subject-Driven_IG": "subject_driven_ig",
               "ImagenHub_Multi-Concept_IC": "multi_concept_ic", "ImagenHub_Control-Guided_IG": "control_guided_ig",
               "ImagenHub_Subject-Driven_IE": "subject_driven_ie"}
    published = {(r["model"], r["subset"], r["metric"]): r["value"] for r in get_pack("imagenhub").published()}
    want = {(r["model"], subsets[r["task"]], m.lower()): float(r[f"{m}_mean"]) for r in rows() if r["task"] in subsets
            for m in ("SC", "PQ", "O")}
    assert published == want
