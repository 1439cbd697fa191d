"""The Streamlit app under AppTest: the rating flow, blindness, and the admin page."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import human_fixtures
import pandas as pd
import pytest
from human_fixtures import rate_all
from ibench.human_eval import ratings
from ibench.human_eval.imagenhub import read_tsv
from ibench.human_eval.store import get_engine
from PIL import Image
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "human_eval" / "app.py")

human_runs, study = human_fixtures.human_runs, human_fixtures.study  # pytest fixtures


@pytest.fixture
def open_app(study, monkeypatch):
    """A new browser session on the study's database (call it again for another session)."""
    db, _ = study
    monkeypatch.setenv("IBENCH_HUMAN_DB", str(db))

    def make() -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        assert not at.exception
        return at

    return make


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, token: str, field: str = "rater_token", label: str = "Sign in") -> AppTest:
    at.text_input(key=field).input(token)
    return click(at, label)


def page_text(at: AppTest) -> str:
    """Everything the page sends to the browser: every element's protobuf as text, tables as CSV."""
    parts: list[str] = []

    def walk(node) -> None:  # noqa: ANN001
        if getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        if getattr(node, "type", None) == "dataframe":
            parts.append(node.value.to_csv())  # the protobuf holds tables as Arrow bytes
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(parts)


def current_assignment(at: AppTest) -> int:
    keys = [r.key for r in at.radio if r.key and re.match(r"a\d+_pq$", r.key)]
    assert len(keys) == 1
    return int(keys[0][1:-3])


def set_rating(at: AppTest, conditions: list[float], pq: float) -> None:
    aid = current_assignment(at)
    for i, value in enumerate(conditions):
        at.radio(key=f"a{aid}_sc{i}").set_value(value)
    at.radio(key=f"a{aid}_pq").set_value(pq)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_rating_flow_sign_in_rate_change_skip_flag_resume(open_app, study):
    db, tokens = study
    engine = get_engine(str(db))
    me = ratings.sign_in(engine, tokens.raters["rater01"])
    slots = ratings.queue(engine, me.rater_id)
    at = open_app()
    assert at.radio(key="page").value == "Rate"
    sign_in(at, "wrong-token")
    assert [e.value for e in at.error] == ["Unknown token."]
    sign_in(at, tokens.admin)
    assert "admin token" in at.error[0].value
    sign_in(at, tokens.raters["rater01"])
    assert f"Item 1 of {len(slots)}" in markdown(at) and "not rated yet" in markdown(at)

    # the instruction, every reference image and the output
    item = ratings.rater_item(engine, me.rater_id, slots[0].assignment_id)
    assert current_assignment(at) == slots[0].assignment_id
    assert f"> {item.text}" in markdown(at)
    shown = sum(len(im.value) for im in at.get("image"))
    assert shown == sum(len(r.images) for r in item.references) + 1 and shown >= 3
    # the rubric: one radio per checklist condition plus PQ, with ImagenHub's definitions on the page
    labels = [r.label for r in at.radio if r.key != "page"]
    assert labels == [*item.checklist, "Perceptual quality of the output"] and len(item.checklist) == 3
    text = page_text(at)
    for phrase in ("SC = 0.5: all the conditions are partly followed", "PQ = 1: the image looks genuine",
                   "SC is the minimum over them", "following some part", "Unusual sense"):
        assert phrase in text

    # saving needs every value; then SC = min over the conditions
    click(at, "Save rating")
    assert "Choose a value for every condition" in at.error[0].value
    set_rating(at, [1.0, 0.5, 1.0], 1.0)
    click(at, "Save rating")
    assert at.success[0].value == "Saved item #1: SC 0.5, PQ 1."
    assert f"Item 2 of {len(slots)}" in markdown(at)
    assert f"Progress: 1 of {len(slots)} done" in page_text(at)
    own = ratings.rater_item(engine, me.rater_id, slots[0].assignment_id).rating
    assert (own.status, own.conditions, own.sc, own.pq) == ("rated", [1.0, 0.5, 1.0], 0.5, 1.0)

    # go back and change it: the old values are preselected; the history keeps both versions
    click(at, "◀ Previous")
    assert "rated: SC 0.5, PQ 1 (version 1)" in markdown(at)
    aid = current_assignment(at)
    assert [at.radio(key=f"a{aid}_sc{i}").value for i in range(3)] == [1.0, 0.5, 1.0]
    at.radio(key=f"a{aid}_sc1").set_value(1.0)
    at.radio(key=f"a{aid}_pq").set_value(0.5)
    click(at, "Save rating")
    assert "(changed)" in at.success[0].value
    assert [(h.sc, h.pq) for h in ratings.history(engine, me.rater_id, aid)] == [(0.5, 1.0), (1.0, 0.5)]

    # skip (reason optional) and flag (reason required)
    assert current_assignment(at) == slots[1].assignment_id
    click(at, "Skip")
    assert at.success[0].value == "Skipped item #2."
    click(at, "Flag")
    assert "Write a reason to flag" in at.error[0].value
    at.text_input(key=f"a{slots[2].assignment_id}_reason").input("the output is blank")
    click(at, "Flag")
    assert at.success[0].value == "Flagged item #3."
    assert ratings.progress(engine, me.rater_id) == {"total": len(slots), "rated": 1, "skipped": 1, "flagged": 1,
                                                      "open": len(slots) - 3}

    # stop, then resume in a new session: it opens at the first item not yet done
    click(at, "Sign out (your ratings are saved)")
    assert [t.key for t in at.text_input] == ["rater_token"] and "Item" not in markdown(at)
    again = open_app()
    sign_in(again, tokens.raters["rater01"])
    assert f"Item 4 of {len(slots)} — not rated yet" in markdown(again)
    assert f"Progress: 3 of {len(slots)} done" in page_text(again)
    # rate the rest: the page says all is done, and rating stays possible
    for _ in range(len(slots) - 3):
        set_rating(again, [1.0, 1.0, 1.0], 1.0)
        click(again, "Save rating")
    assert f"All {len(slots)} items are done" in again.success[-1].value
    assert ratings.progress(engine, me.rater_id)["open"] == 0


def test_rater_never_sees_model_names_or_other_raters_ratings(open_app, study, human_runs):
    db, tokens = study
    engine = get_engine(str(db))
    a = ratings.sign_in(engine, tokens.raters["rater01"])
    secret = "SECRET-REASON-of-rater01"
    theirs = {}
    for k, slot in enumerate(ratings.queue(engine, a.rater_id)):
        item = ratings.rater_item(engine, a.rater_id, slot.assignment_id)
        if k == 0:
            ratings.flag(engine, a.rater_id, slot.assignment_id, secret)
        else:
            ratings.rate(engine, a.rater_id, slot.assignment_id, [0.5] * len(item.checklist), 0.5, reason=secret)
        theirs[item.image] = item
    forbidden = [re.escape(p.name) for p in human_runs]  # run ids hold the model names
    forbidden += [r"\btiny\b", r"\breferences\b", re.escape(secret), r"\brater01\b", "flagged"]
    at = open_app()
    sign_in(at, tokens.raters["rater02"])
    b = ratings.sign_in(engine, tokens.raters["rater02"])
    shared = 0
    for _ in ratings.queue(engine, b.rater_id):
        text = page_text(at)
        for pattern in forbidden:
            assert not re.search(pattern, text, re.IGNORECASE), pattern
        assert "not rated yet" in markdown(at)
        aid = current_assignment(at)
        assert all(r.value is None for r in at.radio if r.key and r.key.startswith(f"a{aid}_"))
        shared += ratings.rater_item(engine, b.rater_id, aid).image in theirs
        click(at, "Next ▶")
    assert shared >= 2  # rater02 did see outputs that rater01 had rated or flagged


@pytest.fixture
def downloads(monkeypatch):
    """What the app hands to download buttons: {file name: bytes}."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):  # noqa: ANN001, ANN202
        if filename:
            seen[filename] = path_or_data if isinstance(path_or_data, bytes) else str(path_or_data).encode()
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return seen


def test_admin_page_refuses_without_admin_token(open_app, study):
    _, tokens = study
    at = open_app()
    at.radio(key="page").set_value("Admin").run()
    assert "needs the study's admin token" in at.info[0].value
    assert not at.dataframe and not at.get("download_button")
    sign_in(at, tokens.raters["rater01"], "admin_token", "Sign in as admin")
    assert at.error[0].value == "Refused: this is a rater token, not an admin token."
    assert not at.dataframe and not at.get("download_button")
    sign_in(at, "", "admin_token", "Sign in as admin")
    assert at.error[0].value == "Refused: unknown token."
    # a rater signed in on the rating page is still refused on the admin page
    at.radio(key="page").set_value("Rate").run()
    sign_in(at, tokens.raters["rater01"])
    at.radio(key="page").set_value("Admin").run()
    assert not at.dataframe and [t.key for t in at.text_input] == ["admin_token"]


def test_admin_page_progress_agreement_flags_export_import(open_app, study, downloads):
    db, tokens = study
    engine = get_engine(str(db))
    rate_all(db, tokens)
    r1 = ratings.sign_in(engine, tokens.raters["rater01"])
    first = ratings.queue(engine, r1.rater_id)[0].assignment_id
    ratings.flag(engine, r1.rater_id, first, "watermark all over it")
    at = open_app()
    at.radio(key="page").set_value("Admin").run()
    sign_in(at, tokens.admin, "admin_token", "Sign in as admin")
    assert at.title[0].value == "Admin · study test-study"
    progress, scores, flagged = (d.value for d in at.dataframe)
    assert list(progress["rater"]) == ["rater01", "rater02", "rater03", "rater04"]
    assert progress.set_index("rater").loc["rater01", "flagged"] == 1
    assert (progress["open"] == 0).all() and progress["assigned"].sum() == 18
    assert list(scores["model"]) == ["references", "tiny"]  # the admin does see models...
    assert re.search(r"\btiny\b", page_text(at))  # ...and page_text (used for blindness) would catch them
    assert {"fleiss_kappa_SC", "fleiss_kappa_PQ", "kripp_alpha_SC", "kripp_alpha_PQ"} <= set(scores.columns)
    assert "computed separately on SC, on PQ and on O" in page_text(at)
    assert list(flagged["reason"]) == ["watermark all over it"] and flagged["rater"].tolist() == ["rater01"]

    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download ratings (CSV)", "Download ImagenHub TSVs (zip)"]
    csv = pd.read_csv(io.BytesIO(downloads["test-study-ratings.csv"]))
    assert len(csv) == 18 and (csv["status"] == "flagged").sum() == 1
    with zipfile.ZipFile(io.BytesIO(downloads["test-study-imagenhub.zip"])) as z:
        names = sorted(z.namelist())
        assert names == [f"style_subject/style_subject_rater0{k}.tsv" for k in range(1, 5)]
        tsv = z.read("style_subject/style_subject_rater02.tsv").decode()
    back = read_tsv(tsv, "style_subject_rater02.tsv", "style_subject")
    assert set(back["model"]) == {"references", "tiny"} and len(back) == (csv["rater"] == "rater02").sum()

    # import: change one cell of rater02's TSV and upload it
    lines = tsv.splitlines()
    header, row = lines[0].split("\t"), lines[1].split("\t")
    row[1] = "[0,0]" if row[1] != "[0,0]" else "[1,1]"
    lines[1] = "\t".join(row)
    at.get("file_uploader")[0].set_value(("style_subject_rater02.tsv", ("\n".join(lines) + "\n").encode(),
                                           "text/tab-separated-values"))
    click(at, "Import")
    assert at.success[0].value.startswith("Imported 1 ratings from 1 file(s)")
    new = ratings_of(engine, "rater02", header[1], row[0])
    assert new == tuple(float(x) for x in row[1].strip("[]").split(","))


def ratings_of(engine, rater: str, model: str, uid: str) -> tuple[float, float]:  # noqa: ANN001
    from ibench.human_eval.aggregate import ratings_frame

    frame = ratings_frame(engine)
    row = frame[(frame["rater"] == rater) & (frame["model"] == model) & (frame["uid"] == uid)]
    return float(row["SC"].item()), float(row["PQ"].item())


def test_a_missing_image_is_reported_not_fatal(open_app, study, tmp_path):
    from sqlalchemy import update

    from ibench.human_eval.store import Assignment, Item, reading

    db, tokens = study
    engine = get_engine(str(db))
    me = ratings.sign_in(engine, tokens.raters["rater04"])
    first = ratings.queue(engine, me.rater_id)[0].assignment_id
    with reading(engine) as s:
        item_id = s.get(Assignment, first).item_id
        s.execute(update(Item).where(Item.id == item_id).values(image=str(tmp_path / "moved.png")))
        s.commit()
    at = open_app()
    sign_in(at, tokens.raters["rater04"])
    assert current_assignment(at) == first
    assert [w.value for w in at.warning] == ["Image output is missing on the server; skip or flag this item."]
    click(at, "Skip")
    assert at.success[0].value == "Skipped item #1."


def test_outputs_are_shown_to_raters_at_one_common_size(tmp_path, open_app, study, monkeypatch):
    """A 64 px and a 512 px (and a wide) output look the same size to raters, with no metadata."""
    from PIL import PngImagePlugin

    from ibench.human_eval import blind

    views = []
    for name, size in (("small.png", (64, 64)), ("large.png", (512, 512)), ("wide.png", (300, 100))):
        info = PngImagePlugin.PngInfo()
        info.add_text("model", "secret-model-name")
        Image.new("RGB", size, (200, 30, 30)).save(tmp_path / name, pnginfo=info)
        views.append(blind.rater_view(tmp_path / name))
    decoded = [Image.open(io.BytesIO(v)) for v in views]
    assert {im.size for im in decoded} == {(blind.RATER_SIZE, blind.RATER_SIZE)}
    assert all(b"secret-model-name" not in v and not im.text for v, im in zip(views, decoded))
    served = []
    monkeypatch.setattr(blind, "rater_view", lambda path, size=blind.RATER_SIZE: served.append(path) or views[0])
    db, tokens = study
    at = open_app()
    sign_in(at, tokens.raters["rater01"])
    engine = get_engine(str(db))
    me = ratings.sign_in(engine, tokens.raters["rater01"])
    item = ratings.rater_item(engine, me.rater_id, current_assignment(at))
    assert served and served[-1] == item.image  # the output went through rater_view
