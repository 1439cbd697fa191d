"""A real browser: the app served by ``streamlit run`` on 127.0.0.1, Debian's Chromium driven by
Playwright at 1440×900. A rater signs in with a link, rates with the keyboard alone without ever
scrolling (clicks and seconds per item measured and kept in test-artifacts/); a pairwise study end
to end; gold-item and attention-check accuracy on the admin page. Screenshots are kept."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import human_fixtures
import pytest
from human_fixtures import one_rater
from ibench.human_eval.assignment import items_from_runs, sign_in_link
from ibench.human_eval.store import Assignment, Item, Rating, reading
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "human_eval" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 900}
KEY = {0.0: "0", 0.5: "5", 1.0: "1"}
COUNT_CLICKS = "window.__clicks = 0; addEventListener('click', () => { window.__clicks += 1; }, true);"
# every part a rater needs, inside the viewport, and nothing to scroll
IN_VIEW = """() => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.rater'));
  const root = host.shadowRoot;
  const parts = [...root.querySelectorAll('.out img, .ref img, .q, button.save, .keys, .instr .text')];
  const off = parts.filter(e => { const r = e.getBoundingClientRect();
    return r.bottom > innerHeight + 1 || r.right > innerWidth + 1 || r.top < 0 || r.height === 0; });
  return {parts: parts.length, off: off.map(e => e.className || e.tagName),
          scroll: document.scrollingElement.scrollHeight - innerHeight, y: scrollY,
          inner: [...root.querySelectorAll('.rater, .rater *')].filter(e => e.scrollHeight > e.clientHeight + 1
            && getComputedStyle(e).overflowY !== 'visible').map(e => e.className)};
}"""

human_runs = human_fixtures.human_runs  # pytest fixture
pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(db: Path, log_path: Path):
    """``streamlit run human_eval/app.py`` on a free port of 127.0.0.1: yields the URL."""
    port = free_port()
    log = open(log_path, "w")
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
                pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def chromium(tmp_path: Path):
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is needed at /usr/bin/chromium: apt-get update && apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM),
                                                   headless=True, args=CHROMIUM_ARGS, viewport=VIEWPORT)
        try:
            yield ctx
        finally:
            ctx.close()


def open_as_rater(ctx, url: str, token: str, errors: list):  # noqa: ANN001, ANN201
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(COUNT_CLICKS)
    page.goto(sign_in_link(url, token))
    page.get_by_role("button", name="I have read this and agree to take part").click()
    page.get_by_text("Item 1 of").wait_for()
    assert "token" not in page.url  # the sign-in link's token is dropped from the address bar
    return page


def press(page, keys: list[str], then: str) -> float:  # noqa: ANN001
    """Press the keys; seconds until ``then`` is on the page."""
    start = time.perf_counter()
    for k in keys:
        page.keyboard.press(k)
    page.get_by_text(then, exact=False).first.wait_for()
    return time.perf_counter() - start


def test_keyboard_only_rating_without_scrolling(human_runs, tmp_path):
    db = tmp_path / "kbd.db"
    tokens, engine, me, slots = one_rater(db, human_runs, "ann")
    n = len(slots)
    assert n == 6
    plan = [[1.0, 0.5, 1.0, 1.0], [0.0, 1.0, 1.0, 0.5], [1.0, 1.0, 1.0, 1.0], [0.5, 0.5, 0.0, 0.0],
            [1.0, 0.0, 0.5, 1.0]]  # three conditions, then PQ
    errors, seconds, layouts = [], [], []
    with serving(db, tmp_path / "streamlit.log") as url, chromium(tmp_path) as ctx:
        page = open_as_rater(ctx, url, tokens.raters["ann"], errors)
        page.screenshot(path=str(ARTIFACTS / "rate_item1.png"))
        clicks_before = page.evaluate("window.__clicks")
        for k, values in enumerate(plan):
            layouts.append(page.evaluate(IN_VIEW))
            seconds.append(press(page, [KEY[v] for v in values] + ["Enter"], f"Item {k + 2} of {n}"))
        clicks = page.evaluate("window.__clicks") - clicks_before
        page.screenshot(path=str(ARTIFACTS / "rate_item6.png"))
        # S skips: with every other item done, the skipped one comes straight back; F flags with a reason
        press(page, ["s"], f"Skipped item {n}")
        page.get_by_text(f"Item {n} of {n}").wait_for()
        page.get_by_text("skipped").first.wait_for()
        page.keyboard.press("f")
        page.keyboard.type("the output is blank")
        press(page, ["Enter"], f"All {n} items are done")
    assert errors == []
    assert clicks == 0  # the keyboard alone
    for lay in layouts:
        assert lay["parts"] >= 3 + 4 + 1 and lay["off"] == [], lay  # images, 4 questions, save button ...
        assert lay["scroll"] <= 0 and lay["y"] == 0 and lay["inner"] == [], lay  # ... all in view, nothing scrolls
    got = []
    with reading(engine) as s:
        for slot in slots:
            r = s.scalars(select(Rating).where(Rating.assignment_id == slot.assignment_id)).first()
            got.append(r)
    for values, r in zip(plan, got):
        assert r.status == "rated" and r.conditions == values[:3] and r.pq == values[3] and r.sc == min(values[:3])
        assert 0 < r.seconds < 60  # the time on the item, stored with the rating
    assert (got[5].status, got[5].reason) == ("flagged", "the output is blank")
    keys_per_item = len(plan[0]) + 1
    result = {"items": len(plan), "clicks_per_item": clicks / len(plan), "keys_per_item": keys_per_item,
              "seconds_per_item": sum(seconds) / len(seconds), "seconds": [round(x, 3) for x in seconds],
              "viewport": VIEWPORT, "stored_seconds": [r.seconds for r in got[:5]]}
    (ARTIFACTS / "rating_speed.json").write_text(json.dumps(result, indent=2))
    print(f"\nrating speed: {json.dumps(result)}")


def _winner_key(engine, slot, model: str) -> str:  # noqa: ANN001
    """The key that picks ``model``'s output, wherever this rater sees it."""
    with reading(engine) as s:
        a = s.get(Assignment, slot.assignment_id)
        item = s.get(Item, a.item_id)
    left_is_a = a.pair_order == "ab"
    return "a" if (item.model == model) == left_is_a else "b"


def test_pairwise_study_end_to_end(human_runs, tmp_path, capsys):
    from ibench.core.pairwise import read_preferences
    from report_fixtures import cli_main

    db = tmp_path / "pair.db"
    tokens, engine, me, slots = one_rater(db, human_runs, "bea", kind="pairwise")
    errors = []
    with serving(db, tmp_path / "streamlit.log") as url, chromium(tmp_path) as ctx:
        page = open_as_rater(ctx, url, tokens.raters["bea"], errors)
        page.get_by_text("Left", exact=True).wait_for()
        page.get_by_text("Right", exact=True).wait_for()
        page.screenshot(path=str(ARTIFACTS / "pairwise_item1.png"))
        for k, slot in enumerate(slots):
            key = _winner_key(engine, slot, "references")
            then = f"Item {k + 2} of" if k + 1 < len(slots) else f"All {len(slots)} items are done"
            press(page, [key, "t" if k == 0 else key, "Enter"], then)
    assert errors == []
    code, out, _ = cli_main(["human", "stats", "--db", db, "--json"], capsys)
    assert code == 0
    ranking = {(r["aspect"], r["model"]): r for r in json.loads(out)["pairwise"]}
    assert ranking[("sc", "references")]["rank"] == 1 and ranking[("sc", "references")]["wins"] == 3
    assert ranking[("pq", "references")]["ties"] == 1 and ranking[("sc", "tiny")]["losses"] == 3
    code, _, _ = cli_main(["human", "export", "--db", db, "--format", "pairwise", "--out", tmp_path / "x"], capsys)
    prefs = read_preferences(tmp_path / "x" / "pairwise.jsonl")
    assert code == 0 and len(prefs) == 6 and {p.judge for p in prefs} == {"human:bea"}
    assert all(p.winner == "a" for p in prefs if p.aspect == "sc") and {p.model_a for p in prefs} == {"references"}


def test_gold_and_attention_accuracy_on_the_admin_page(human_runs, tmp_path):
    records = items_from_runs(human_runs)
    good = {"conditions": [1, 1, 1], "pq": 1}
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"task": r["task"], "instance_id": r["instance_id"], "sample": r["sample"],
                                        "model": r["model"], **good}) + "\n" for r in records[:3]))
    db = tmp_path / "gold.db"
    tokens, engine, me, slots = one_rater(db, human_runs, "cy", gold=gold, practice=1, attention=1)
    with reading(engine) as s:
        expected = [s.get(Item, s.get(Assignment, sl.assignment_id).item_id).expected for sl in slots]
    errors, gold_seen = [], 0
    with serving(db, tmp_path / "streamlit.log") as url, chromium(tmp_path) as ctx:
        page = open_as_rater(ctx, url, tokens.raters["cy"], errors)
        assert slots[0].role == "practice"
        press(page, ["1", "5", "1", "1", "Enter"], "Expected: 1. 1, 2. 1, 3. 1, quality 1")  # practice feedback
        page.screenshot(path=str(ARTIFACTS / "rate_practice_feedback.png"))
        press(page, ["ArrowRight"], f"Item 2 of {len(slots)}")
        for k, slot in enumerate(slots[1:], 1):
            if slot.role == "gold":
                gold_seen += 1
                values = good["conditions"] + [good["pq"]] if gold_seen == 1 else [0.0, 0.0, 0.0, 0.0]
            elif slot.role == "attention":
                values = expected[k]["conditions"] + [expected[k]["pq"]]
            else:
                values = [0.5, 0.5, 0.5, 0.5]
            then = f"Item {k + 2} of" if k + 1 < len(slots) else f"All {len(slots)} items are done"
            press(page, [KEY[float(v)] for v in values] + ["Enter"], then)
        admin = ctx.new_page()
        admin.on("pageerror", lambda e: errors.append(str(e)))
        admin.goto(f"{url}/?page=admin")
        admin.get_by_label("Admin token").fill(tokens.admin)
        admin.get_by_role("button", name="Sign in as admin").click()
        admin.get_by_text("Progress per rater").wait_for()
        row = admin.locator("table tr", has_text="cy").first
        row.wait_for()
        cells = row.locator("td, th").all_inner_texts()
        admin.screenshot(path=str(ARTIFACTS / "admin_accuracy.png"), full_page=True)
    assert errors == [] and gold_seen == 2
    assert "1/2 (50%)" in cells and "1/1 (100%)" in cells and "yes" in cells, cells  # gold, attention, consent
