"""Reports people share: report.md fits a PR comment for a full benchmark (12 tasks × 5 models, with
human ratings), and the demo report (scripts/demo.sh) is small, self-contained and clean in Chromium."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import need_system

from ibench.core.registry import all_tasks
from report_fixtures import guard_offline
from ibench.report.headline import headline_table
from ibench.report.model import Report
from ibench.report.render import MD_LIMIT, render_markdown
from ibench.report.tables import CORR_COLUMNS, METRIC_COLUMNS, SET_COLUMNS, table4

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
MODELS = ["sd-composite", "omnigen", "sd-composite(subject_scale=0.8)", "my-api-model", "references"]


def synthetic_report(n_instances: int = 50, seed: int = 0) -> Report:
    """Every registered task × 5 models: metrics, set metrics, headline, human tables, correlations,
    provenance with real-length run ids, settings and extractor ids (the numbers are random)."""
    from ibench.human_eval.aggregate import summary_table
    from ibench.models.sd_composite import SDCompositeModel

    rng = np.random.default_rng(seed)
    specs = sorted(all_tasks(), key=lambda s: s.name)
    settings = SDCompositeModel.default_settings()
    metrics, sets, runs, per_instance, ratings, corr = [], [], [], {}, [], []
    for spec in specs:
        for k, model in enumerate(MODELS):
            rid = f"{spec.name}-{model.split('(')[0]}-{rng.integers(16**10):010x}"
            runs.append({"run_id": rid, "task": spec.name, "task_version": 1, "family": spec.family,
                         "model": model.split("(")[0], "model_settings": settings, "label": model, "seed": 0,
                         "data": "e281522134bb7452", "spec_hash": "108d74b6a47d6d7f", "n_instances": n_instances,
                         "n_images": 4 * n_instances, "n_failed": 0, "samples": 4,
                         "extractors": {"clip": "open_clip:ViT-B-32-quickgelu:openai:open_clip_model.safetensors@"
                                                "0123456789abcdef", "dino": "transformers:facebook/dino-vits16:"
                                                                           "model.safetensors@0123456789abcdef"}})
            frames = []
            for metric in spec.metrics:
                values = rng.uniform(0.2, 0.9, n_instances) + 0.02 * k
                frames.append(pd.DataFrame({"instance_id": [f"{spec.name}-{i:04d}" for i in range(n_instances)],
                                            "metric": metric, "value": values}))
                metrics.append({"task": spec.name, "family": spec.family, "model": model, "run_id": rid,
                                "metric": metric, "higher_is_better": metric != "control_depth",
                                "mean": values.mean(), "ci_low": values.mean() - 0.03, "ci_high": values.mean() + 0.03,
                                "n": n_instances})
            per_instance[rid] = pd.concat(frames, ignore_index=True)
            for metric in spec.set_metrics:
                sets.append({"task": spec.name, "family": spec.family, "model": model, "run_id": rid,
                             "metric": metric, "higher_is_better": False, "value": rng.uniform(10, 80), "n": 200,
                             "stable": False, "note": f"unstable: {metric.upper()} needs more than 200 images"})
            for item in range(20):
                for rater in range(3):
                    ratings.append({"task": spec.name, "model": model, "run_id": rid, "item": f"{rid}/{item}",
                                    "rater": f"rater{rater:02d}", "SC": rng.choice([0, 0.5, 1]),
                                    "PQ": rng.choice([0, 0.5, 1])})
        for metric in spec.metrics:
            for measure in ("SC", "PQ", "O"):
                corr.append({"task": spec.name, "family": spec.family, "metric": metric, "human": measure, "n": 100,
                             **{c: rng.uniform(-1, 1) for c in CORR_COLUMNS[5:]}})
    metrics_df = pd.DataFrame(metrics, columns=METRIC_COLUMNS)
    human = summary_table(pd.DataFrame(ratings))
    human.insert(1, "family", [next(s.family for s in specs if s.name == t) for t in human["task"]])
    agreement = human[["task", "family", "model", "n_items", "n_raters",
                       *[c for c in human.columns if c.startswith(("fleiss", "kripp"))]]]
    return Report(title="12 tasks x 5 models", created="2026-12-01T00:00:00+00:00", runs=runs, metrics=metrics_df,
                  set_metrics=pd.DataFrame(sets, columns=SET_COLUMNS), items=pd.DataFrame(),
                  headline=headline_table(metrics_df, per_instance), study="pilot", human=human,
                  table4=table4(human, {"SC": "SC_mean", "PQ": "PQ_mean", "O": "O_of_means"}), agreement=agreement,
                  correlations=pd.DataFrame(corr, columns=CORR_COLUMNS),
                  extractors=[{"kind": "extractor", "name": n, "id": i, "tiny": False, "runs": [r["run_id"] for r in runs]}
                              for n, i in runs[0]["extractors"].items()])


def test_report_md_fits_a_pr_comment_for_every_task_x_5_models():
    report = synthetic_report()
    assert len({r["task"] for r in report.runs}) == len(all_tasks()) >= 12 and len({r["label"] for r in report.runs}) == 5
    md = render_markdown(report)
    assert len(md) <= MD_LIMIT
    # the headline is whole: every metric, every model, the family averages and the overall rank
    for metric in report.metrics["metric"].unique():
        assert f"### {metric} " in md
    for model in MODELS:
        assert md.count(f"| {model} |") >= report.metrics["metric"].nunique()
    assert "in_domain avg" in md and "zero_shot avg" in md and "| overall |" in md.replace(" overall |", " overall |")
    assert "## Human evaluation" in md and "| O |" in md  # Table 4 is kept
    # what had to give way is said, not silently cut
    left_out = re.findall(r"## (.+)\n\n_Left out of report.md", md)
    assert all(s in ("Agreement", "Metric–human correlation", "Provenance", "Automatic metrics") for s in left_out)
    assert md.count("(1)") <= 2 * len(all_tasks()) * 5 and "unstable: FID needs more than 200 images" in md
    assert md.count("unstable: FID needs more than 200 images") == 1  # the note once, not on every row
    # with room to spare nothing is left out, and an absurd limit still gives a valid, cut document
    assert "_Left out" not in render_markdown(report, limit=10**7)
    short = render_markdown(report, limit=5000)
    assert len(short) <= 5000 and "cut to fit a PR comment" in short


def _demo_commands(runs: Path, out: Path) -> list[list[str]]:
    """The ``ibench`` commands of scripts/demo.sh, pointed at ``runs`` and ``out``."""
    text = (REPO / "scripts" / "demo.sh").read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if not line.strip().startswith(".venv/bin/ibench"):
            continue
        words = shlex.split(line)[1:]
        words = [str(runs) if w == "runs" else str(out) if w == "reports/demo" else
                 str(runs) if w.startswith("runs/") else w for w in words]
        commands.append([sys.executable, "-m", "ibench", *words])
    assert [c[3] for c in commands] == ["run", "report"], commands
    return commands


@pytest.mark.browser
def test_demo_report_is_small_self_contained_and_clean_in_chromium(tmp_path):
    need_system("chromium", CHROMIUM.is_file(), "apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "demo"
    env = {"HF_HUB_OFFLINE": "1", "IBENCH_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    for cmd in _demo_commands(tmp_path / "runs", out):
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    files = [p for p in out.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total <= 1_000_000, f"demo report is {total} bytes"
    html = (out / "index.html").read_text()
    markup = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", html)
    assert len(markup) < 60_000  # what is not an image grows with tables, not a fixed payload
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM),
                                                   args=ARGS, headless=True, viewport={"width": 1400, "height": 900})
        try:
            page = ctx.new_page()
            errors, outside = guard_offline(page, out)
            page.goto((out / "index.html").as_uri())
            assert "Meaningless scores" in page.locator("#tiny-banner").inner_text()
            from ibench.core.registry import get_task

            # one dot plot per metric of the demo's task (style_subject: clip_t, dino, clip_i, style x2, copy_rate)
            assert page.locator("figure.plot svg").count() == len(get_task("style_subject").metrics)
            page.screenshot(path=str(ARTIFACTS / "demo_report.png"), full_page=True)
            page.click("a.viewer-link")
            page.wait_for_selector("article.card")
            cards = page.locator("article.card").count()
            page.eval_on_selector_all("img", "els => els.forEach(e => { e.loading = 'eager'; })")
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        finally:
            ctx.close()
    assert errors == [] and outside == []
    assert cards == 4 * 2  # demo: 4 instances x 2 samples of one model
