"""The report's index.html in Debian's headless Chromium (Playwright): it renders offline, its plots
draw, its tables show what an independent pandas computation gives; a screenshot is kept."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from report_fixtures import raw_ratings, raw_scores, report_inputs  # noqa: F401 (fixture)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page_data(report_inputs, tmp_path_factory):
    """Build the report, open it in Chromium, read its tables from the DOM, screenshot it."""
    if not CHROMIUM.is_file():
        pytest.fail("Debian chromium is required: apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    from ibench.report import build_report, write_report

    out = tmp_path_factory.mktemp("html") / "pilot"
    write_report(build_report(report_inputs.runs, study_db=report_inputs.db, title="pilot"), out)
    html = (out / "index.html").read_text()
    ARTIFACTS.mkdir(exist_ok=True)
    outside, errors = [], []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("chromium-profile")),
                                                   executable_path=str(CHROMIUM), args=ARGS, headless=True,
                                                   viewport={"width": 1400, "height": 900})
        try:
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):  # the page must need nothing but itself: refuse and record anything else
                if r.request.url.startswith(("data:", f"file://{out}")):
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            page.goto((out / "index.html").as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20000)
            data = {
                "metrics": page.eval_on_selector_all(
                    "table.metrics td[data-metric]",
                    "els => els.map(e => ({model: e.dataset.model, metric: e.dataset.metric, "
                    "mean: +e.dataset.mean, text: e.innerText.trim()}))"),
                "table4": page.eval_on_selector_all(
                    "table.table4 td[data-measure]",
                    "els => els.map(e => ({model: e.dataset.model, measure: e.dataset.measure, task: e.dataset.task, "
                    "text: e.innerText.trim()}))"),
                "plots": page.locator(".js-plotly-plot").count(),
                "bars": page.locator("[data-plot=bars] .js-plotly-plot").count(),
                "scatters": page.locator("[data-plot=scatter] .js-plotly-plot").count(),
                "grid_images": page.eval_on_selector_all(
                    "table.grid img", "els => els.map(e => [e.naturalWidth, e.className, e.src.slice(0, 15)])"),
                "headings": page.eval_on_selector_all("h2, h3", "els => els.map(e => e.innerText)"),
            }
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            ctx.close()
    shutil.copy(out / "index.html", ARTIFACTS / "report.html")
    return {**data, "outside": outside, "errors": errors, "html": html, "doc": json.loads(
        (out / "results.json").read_text())}


def test_page_is_self_contained_and_renders(page_data):
    assert page_data["outside"] == [] and page_data["errors"] == []
    markup = re.sub(r"<script>.*?</script>", "", page_data["html"], flags=re.S)  # plotly.js mentions URLs
    assert 'src="http' not in markup and 'href="http' not in markup and "<link" not in markup
    assert len(re.findall(r"<script>", page_data["html"])) == 1 + page_data["plots"]  # plotly.js + one per plot
    assert page_data["bars"] == 5 and page_data["scatters"] == 1  # one bar chart per metric, a scatter per task
    headings = page_data["headings"]
    for h in ("Automatic metrics", "Human evaluation", "Agreement", "Metric–human correlation", "Images",
              "style_subject (zero_shot)"):
        assert h in headings
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000


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
            assert cell["text"].startswith(f"{values.mean():.3f} [")
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
