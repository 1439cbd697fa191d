"""The report's index.html and samples.html in Debian's headless Chromium (Playwright): they render
offline with no request outside the report folder and no console error, the plots are static SVG,
the tables show what an independent pandas computation gives, the viewer shows every sample;
screenshots are kept."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import need_system

from report_fixtures import guard_offline, raw_ratings, raw_scores, report_inputs  # noqa: F401 (fixture)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page_data(report_inputs, tmp_path_factory):
    """Build the report, open it in Chromium, read its tables from the DOM, screenshot it."""
    need_system("chromium", CHROMIUM.is_file(), "apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    from ibench.report import build_report, write_report

    out = tmp_path_factory.mktemp("html") / "pilot"
    write_report(build_report(report_inputs.runs, study_db=report_inputs.db, title="pilot"), out)
    html = (out / "index.html").read_text()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("chromium-profile")),
                                                   executable_path=str(CHROMIUM), args=ARGS, headless=True,
                                                   viewport={"width": 1400, "height": 900})
        try:
            page = ctx.new_page()
            errors, outside = guard_offline(page, out)
            page.goto((out / "index.html").as_uri())
            page.wait_for_selector("figure.plot svg circle", timeout=20000)
            data = {
                "metrics": page.eval_on_selector_all(
                    "table.metrics td[data-metric]",
                    "els => els.map(e => ({model: e.dataset.model, metric: e.dataset.metric, "
                    "mean: +e.dataset.mean, text: e.innerText.trim()}))"),
                "table4": page.eval_on_selector_all(
                    "table.table4 td[data-measure]",
                    "els => els.map(e => ({model: e.dataset.model, measure: e.dataset.measure, task: e.dataset.task, "
                    "text: e.innerText.trim()}))"),
                "plots": page.locator("figure.plot svg").count(),
                "dots": page.locator("[data-plot=dots] svg").count(),
                "scatters": page.locator("[data-plot=scatter] svg").count(),
                "scatter_points": page.locator("[data-plot=scatter] svg circle[fill-opacity]").count(),
                "headline": page.eval_on_selector_all(
                    "table.headline td[data-column]",
                    "els => els.map(e => ({model: e.dataset.model, column: e.dataset.column, mean: +e.dataset.mean, "
                    "best: e.dataset.best, bold: getComputedStyle(e).fontWeight}))"),
                "banner": page.locator("#tiny-banner").inner_text() if page.locator("#tiny-banner").count() else "",
                "grid_images": page.eval_on_selector_all(
                    "table.grid img", "els => els.map(e => [e.naturalWidth, e.className, e.src.slice(0, 15)])"),
                "headings": page.eval_on_selector_all("h2, h3", "els => els.map(e => e.innerText)"),
            }
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            page.goto((out / "samples.html").as_uri())
            page.wait_for_selector("article.card")
            data["cards"] = page.locator("article.card").count()
            data["count"] = page.locator("#count").inner_text()
            page.eval_on_selector_all("article.card img", "els => els.forEach(e => { e.loading = 'eager'; })")
            page.wait_for_function("[...document.images].every(i => i.complete)")
            data["viewer_images"] = page.eval_on_selector_all(
                "article.card img", "els => els.map(e => [e.complete, e.naturalWidth])")
            page.select_option("#f-model", "tiny")
            data["cards_tiny"] = page.locator("article.card").count()
            data["tiny_models"] = page.eval_on_selector_all("article.card h3.title", "els => els.map(e => e.innerText)")
            page.select_option("#f-metric", "dino")
            page.select_option("#f-sort", "desc")
            data["sorted_dino"] = page.eval_on_selector_all(
                "article.card tr[data-metric=dino] td:nth-child(2)", "els => els.map(e => +e.innerText)")
            page.screenshot(path=str(ARTIFACTS / "report_samples.png"))
        finally:
            ctx.close()
    shutil.copy(out / "index.html", ARTIFACTS / "report.html")
    return {**data, "outside": outside, "errors": errors, "html": html, "doc": json.loads(
        (out / "results.json").read_text())}


def test_page_is_self_contained_and_renders(page_data):
    assert page_data["outside"] == [] and page_data["errors"] == []
    html = page_data["html"]
    assert "<script" not in html and 'src="http' not in html and 'href="http' not in html and "<link" not in html
    assert page_data["dots"] == 5 and page_data["scatters"] == 1  # a dot+CI plot per metric, a scatter per task
    assert page_data["scatter_points"] == 5 * 12  # every rated image, once per metric panel
    headings = page_data["headings"]
    for h in ("Headline", "Automatic metrics", "Human evaluation", "Agreement", "Metric–human correlation", "Images",
              "Provenance", "style_subject (zero_shot)"):
        assert h in headings
    assert "Meaningless scores" in page_data["banner"] and "tiny random" in page_data["banner"]
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000


def test_headline_bold_only_where_the_ci_separates(page_data, report_inputs):
    cells = pd.DataFrame(page_data["headline"])
    assert set(cells["column"]) == {"style_subject"} and len(cells) == 5 * 2  # metrics x models, one task
    doc = page_data["doc"]
    metrics = pd.DataFrame(doc["metrics"])
    heads = pd.DataFrame(doc["headline"])
    for (metric, _), g in metrics.groupby(["metric", "task"]):
        hib = bool(g["higher_is_better"].iloc[0])
        top = g.loc[g["mean"].idxmax() if hib else g["mean"].idxmin()]
        rest = g.drop(index=top.name)
        separated = (rest["ci_high"] < top["ci_low"]).all() if hib else (rest["ci_low"] > top["ci_high"]).all()
        mine = heads[(heads["metric"] == metric) & (heads["column"] == "style_subject")].set_index("model")
        assert bool(mine.at[top["model"], "best"]) == bool(separated)
        assert not mine.drop(index=top["model"])["best"].any()
    assert ((cells["best"] == "true") == (cells["bold"].astype(int) >= 700)).all()  # bold is exactly "best"


def test_viewer_shows_every_sample_and_filters(page_data):
    assert page_data["cards"] == page_data["cards_tiny"] * 2 == 2 * 3 * 2  # models x instances x samples
    assert page_data["count"].startswith("12 of 12")
    assert all(m.split(" · ")[1] == "tiny" for m in page_data["tiny_models"])
    assert page_data["viewer_images"] and all(done and w > 0 for done, w in page_data["viewer_images"])
    assert page_data["sorted_dino"] == sorted(page_data["sorted_dino"], reverse=True) and len(page_data["sorted_dino"]) == 6


def test_image_grid_shows_references_and_every_model(page_data):
    imgs = page_data["grid_images"]
    outputs = [i for i in imgs if i[1] == "output"]
    assert len(outputs) == 3 * 2  # 3 instances x 2 models
    assert all(w > 0 and src.startswith("data:image/jpeg") for w, _, src in imgs)  # every thumbnail decoded
    assert len(imgs) - len(outputs) == 3 * (2 + 1)  # per instance: 2 subject views + 1 style image


def test_metric_cells_match_an_independent_computation(report_inputs, page_data):
    shown = pd.DataFrame(page_data["metrics"]).set_index(["model", "metric"])
    models = {r.name: r.name.split("-")[1] for r in report_inputs.runs}  # run dir style_subject-<model>-<hash>
    count = 0
    for run in report_inputs.runs:
        per_instance = raw_scores(run).groupby(["metric", "instance_id"])["value"].mean()
        for metric, values in per_instance.groupby(level="metric"):
            cell = shown.loc[(models[run.name], metric)]
            assert cell["mean"] == pytest.approx(values.mean(), abs=1e-12)
            assert " ".join(cell["text"].split()).startswith(f"{values.mean():.3f} [")
            count += 1
    assert count == len(shown) == 10


def test_table4_cells_match_an_independent_computation(report_inputs, page_data):
    r = raw_ratings(report_inputs.db)
    r["O"] = np.sqrt(r["SC"] * r["PQ"])  # per image, then per rater, then over raters (the default O)
    per_rater = r.groupby(["model", "rater"])[["SC", "PQ", "O"]].mean().groupby(level="model").mean()
    shown = pd.DataFrame(page_data["table4"])
    assert len(shown) == 2 * 3 * 2  # models x measures x (task + Average)
    for cell in shown.itertuples():
        assert cell.text == f"{per_rater.at[cell.model, cell.measure]:.3f}"
