"""Reports of the new tasks: the reference-scaling curve, metric recipes, and ImagenHub's editing ratings
under the ibench task names (``human stats --imagenhub``, ``human import-imagenhub`` then ``ibench report``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import isolated

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
SCALING = [f"subject_scaling_{n}" for n in range(1, 5)]
EDITING = {"Text-Guided_IE": "text_edit", "Mask-Guided_IE": "mask_edit", "Subject-Driven_IE": "subject_edit"}


def independent(folder: Path) -> dict[str, dict[str, float]]:
    """ImagenHub's means written out with pandas: per rater the mean over items, then the mean over raters."""
    tables = [pd.read_csv(f, sep="\t") for f in sorted(folder.glob("*.tsv"))]
    out = {}
    for model in tables[0].columns[1:]:
        cells = [np.array(t[model].map(json.loads).tolist(), float) for t in tables]  # raters x (items, 2)
        sc = np.array([c[:, 0].mean() for c in cells])
        o = np.array([np.sqrt(c[:, 0] * c[:, 1]).mean() for c in cells])
        out[model] = {"SC_mean": sc.mean(), "O_mean": o.mean(), "n_items": len(cells[0])}
    return out


@pytest.fixture(scope="module")
def scaling_runs(tmp_path_factory, shared_data):
    """The four scaling tasks with the tiny and the references models, scored with tiny extractors."""
    from ibench.core.paths import DataRoot
    from ibench.core.registry import get_task
    from ibench.evaluators.options import ScoreOptions
    from ibench.evaluators.score import score_run
    from ibench.models import get_model
    from ibench.run import GenerateOptions, generate

    base = tmp_path_factory.mktemp("scaling")
    with isolated(tmp_path_factory):
        root = DataRoot(shared_data, derived_dir=base / "derived")
        for task in SCALING:
            for model in ("tiny", "references"):
                store, _ = generate(get_task(task), get_model(model), root,
                                    GenerateOptions(out=base / "runs", limit=2, samples=1, progress=False))
                score_run(store.path, ScoreOptions(metrics="clip_t,dino", extractors="tiny", num_workers=0))
    return base / "runs"


def test_the_scaling_curve_and_the_recipes_appear_in_the_report(scaling_runs, tmp_path, cli):
    import jsonschema

    code, out, err = cli("report", scaling_runs, "--out", tmp_path / "rep", "--grid", "0")
    assert code == 0, err
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    jsonschema.validate(doc, json.loads((ROOT / "docs" / "report-schema.json").read_text()))
    points = {(r["model"], r["metric"], r["n_references"]): r for r in doc["scaling"]}
    assert set(points) == {(m, k, n) for m in ("tiny", "references") for k in ("clip_t", "dino") for n in (1, 2, 3, 4)}
    by_metric = {(r["task"], r["model"], r["metric"]): r["mean"] for r in doc["metrics"]}
    for (model, metric, n), r in points.items():
        assert r["group"] == "subject_scaling" and r["task"] == f"subject_scaling_{n}"
        assert r["mean"] == pytest.approx(by_metric[(r["task"], model, metric)])  # the task's mean, per N
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Reference scaling" in md and "| N=1 | N=2 | N=3 | N=4 |" in md
    html = (tmp_path / "rep" / "index.html").read_text()
    assert html.count('data-plot="scaling"') == 2 and 'id="scaling"' in html and 'href="#scaling"' in html
    recipes = {r["metric"]: r for r in doc["recipes"]}
    assert set(recipes) == {"clip_t", "dino"} and recipes["dino"]["comparable_with"] == "DreamBench"
    assert recipes["dino"]["runs"] == 8 and "CLS token" in recipes["dino"]["layer"]
    assert "## Metric recipes" in md and 'id="recipes-table"' in html


def test_the_scaling_point_is_the_runs_own_not_the_rendering_machines_task_files(scaling_runs, monkeypatch):
    """Recorded in the manifest when the run is made; a machine whose task files differ (or lack the task) draws
    the same curve."""
    from ibench.core.registry import get_task
    from ibench.errors import IbenchError
    from ibench.report.runs import discover_runs
    from ibench.report.scaling import _group

    runs = discover_runs([scaling_runs])
    assert {(r.task, r.manifest.scaling.group, r.manifest.scaling.n_references) for r in runs} == \
        {(f"subject_scaling_{n}", "subject_scaling", n) for n in range(1, 5)}
    assert all(r.manifest.scaling.n_references == len(get_task(r.task).references) for r in runs)

    def gone(name: str):  # noqa: ANN202
        raise IbenchError(f"unknown task {name!r}")

    monkeypatch.setattr("ibench.core.registry.get_task", gone)
    assert {_group(r) for r in runs} == {("subject_scaling", n) for n in range(1, 5)}


def test_imagenhub_editing_stats_land_under_the_ibench_task_names(cli, shared_data):
    ratings = shared_data / "imagenhub_ratings"
    code, out, err = cli("human", "stats", "--imagenhub", ratings)
    assert code == 0, err
    blocks = {b.split()[0]: b for b in out.split("\n\ntask ")[1:]}  # "task <name>" opens each block
    assert {"text_edit", "mask_edit", "subject_edit", "txt2img", "subject_gen", "multi_subject"} <= set(blocks)
    assert "Control-Guided_IG" in blocks and not {"Text-Guided_IE", "Mask-Guided_IE"} & set(blocks)
    for folder, task in EDITING.items():
        expected = independent(ratings / folder)
        lines = {ln.split()[0]: ln for ln in blocks[task].splitlines()[2:] if ln.strip()}  # after name and header
        assert set(lines) == set(expected)
        for model, exp in expected.items():
            nums = [float(x) for x in lines[model].replace("±", " ").split()[1:]]
            assert nums[0] == exp["n_items"] and nums[2] == pytest.approx(exp["SC_mean"], abs=6e-4)
            assert nums[6] == pytest.approx(exp["O_mean"], abs=6e-4)


def test_imported_editing_ratings_show_in_a_report_under_ibench_tasks(scaling_runs, tmp_path, cli, shared_data):
    db = tmp_path / "ih.db"
    for folder in EDITING:
        code, out, err = cli("human", "import-imagenhub", shared_data / "imagenhub_ratings" / folder, "--db", db)
        assert code == 0 and f"study 'imagenhub:{folder}'" in out, err
    code, out, err = cli("report", scaling_runs, "--out", tmp_path / "rep", "--grid", "0", "--study", db)
    assert code == 0, err
    doc = json.loads((tmp_path / "rep" / "results.json").read_text())
    summary = {(r["task"], r["model"]): r for r in doc["human"]["summary"]}
    assert {t for t, _ in summary} == set(EDITING.values())
    assert all(r["family"] == "editing" for r in summary.values())
    direct = independent(shared_data / "imagenhub_ratings" / "Mask-Guided_IE")
    assert summary[("mask_edit", "SDXLInpaint")]["SC_mean"] == pytest.approx(direct["SDXLInpaint"]["SC_mean"])
    md = (tmp_path / "rep" / "report.md").read_text()
    table4 = md.split("## Human evaluation")[1].split("### Per task")[0]
    assert "### Editing" in table4 and all(t in table4 for t in EDITING.values())
