"""A real browser: the app served by ``streamlit run`` on 127.0.0.1, Debian's Chromium driven by
Playwright signs in, rates an item; the rating is in the database; a screenshot is kept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import human_fixtures
import pytest
from conftest import need_system
from ibench.human_eval import ratings
from ibench.human_eval.store import get_engine

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "human_eval" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

human_runs, study = human_fixtures.human_runs, human_fixtures.study  # pytest fixtures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(study, tmp_path):
    """``streamlit run human_eval/app.py`` on a free port of 127.0.0.1: yields the URL."""
    db, _ = study
    port = free_port()
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", "--", "--db", str(db)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "IBENCH_HUMAN_DB": str(db)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.browser
def test_browser_signs_in_and_rates_an_item(served, study, tmp_path):
    need_system("chromium", CHROMIUM.is_file(), "apt-get update && apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    db, tokens = study
    engine = get_engine(str(db))
    me = ratings.sign_in(engine, tokens.raters["rater03"])
    first = ratings.queue(engine, me.rater_id)[0]
    checklist = ratings.rater_item(engine, me.rater_id, first.assignment_id).checklist
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1800})
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(served)
            page.get_by_label("Rater token").fill(tokens.raters["rater03"])
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Item 1 of")).to_be_visible()
            for k, condition in enumerate(checklist):
                level = "0.5 · following some part" if k == 1 else "1 · following most part"
                page.get_by_role("radiogroup", name=condition).get_by_text(level, exact=True).click()
            page.get_by_role("radiogroup", name="Perceptual quality of the output").get_by_text(
                "1 · recognizable, no artifacts, natural", exact=True).click()
            page.get_by_role("button", name="Save rating").click()
            expect(page.get_by_text("Saved item #1: SC 0.5, PQ 1.")).to_be_visible()
            expect(page.get_by_text("Item 2 of")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "human_eval_rated.png"), full_page=True)
        finally:
            browser.close()
    own = ratings.rater_item(engine, me.rater_id, first.assignment_id).rating
    assert own is not None and (own.status, own.sc, own.pq) == ("rated", 0.5, 1.0)
    assert own.conditions == [1.0, 0.5, 1.0][:len(checklist)]
    assert ratings.count_ratings(engine) == (1, 1)
    assert (ARTIFACTS / "human_eval_rated.png").stat().st_size > 10_000
