"""The Streamlit app under AppTest: the rating flow, blindness, and the admin page."""

from __future__ import annotations

import io
import json
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


def item_data(at: AppTest) -> dict:
    """The data the rating component got (the item the page shows), from its element."""
    found = [e for e in at.main.children.values() if getattr(e, "type", None) == "bidi_component"
             and e.proto.component_name == "ibench_rater"]
    assert len(found) == 1, [getattr(e, "type", None) for e in at.main.children.values()]
    return json.loads(found[0].proto.json)


def consent(at: AppTest) -> AppTest:
    [button] = [b for b in at.button if b.key == "consent"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_sign_in_consent_and_the_item_page(open_app, study):
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
    # instructions and consent first: what they will do, what is stored, the keys and the rubric
    assert at.title[0].value == "Before you start"
    text = page_text(at)
    for phrase in ("What is stored", "the time you spend on each item", "Enter", "SC = 0.5: all the conditions are "
                   "partly followed", "PQ = 1: the image looks genuine", "SC is the **minimum**", "Unusual sense"):
        assert phrase in text, phrase
    assert not ratings.sign_in(engine, tokens.raters["rater01"]).consented
    consent(at)
    assert ratings.sign_in(engine, tokens.raters["rater01"]).consented
    # the item: instruction, every reference image and the output as data URIs, the rubric and the keys
    data = item_data(at)
    item = ratings.rater_item(engine, me.rater_id, slots[0].assignment_id)
    assert (data["pos"], data["total"], data["status"], data["kind"]) == (0, len(slots), "not rated yet", "absolute")
    assert data["text"] == item.text and data["checklist"] == item.checklist and len(item.checklist) == 3
    assert [len(r["images"]) for r in data["refs"]] == [len(r.images) for r in item.references]
    uris = [u for r in data["refs"] for u in r["images"]] + data["images"]
    assert len(uris) >= 3 and all(u.startswith("data:image/jpeg;base64,") for u in uris)
    assert any(k == "0 / 5 / 1" for k, _ in data["shortcuts"]) and any(k == "Enter" for k, _ in data["shortcuts"])
    assert "SC = 0.5: all the conditions are partly followed." in data["guide"]["sc_levels"]
    # what the rater did is saved by the session (the component's callback); the page follows it
    from ibench.human_eval import session

    out = session.apply(engine, me, slots, 0, {"type": "save", "conditions": [1, 0.5, 1], "pq": 1, "ms": 4200})
    at.session_state["pos"] = out.pos
    at.run()
    assert item_data(at)["pos"] == 1 and item_data(at)["done"] == 1
    # a new session resumes where the rater stopped, without asking for consent again
    again = open_app()
    sign_in(again, tokens.raters["rater01"])
    assert item_data(again)["pos"] == 1 and "Before you start" not in [t.value for t in again.title]


def test_a_sign_in_link_signs_in_and_leaves_the_address_bar(open_app, study):
    _, tokens = study
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["token"] = tokens.raters["rater02"]
    at.run()
    assert not at.exception and at.title[0].value == "Before you start"
    assert "token" not in at.query_params
    consent(at)
    assert item_data(at)["pos"] == 0


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
    forbidden += [r"\btiny\b", r"\breferences\b", re.escape(secret), r"\brater01\b", "flagged", "/runs/", r"\.png"]
    at = open_app()
    sign_in(at, tokens.raters["rater02"])
    consent(at)
    b = ratings.sign_in(engine, tokens.raters["rater02"])
    shared = 0
    for k, slot in enumerate(ratings.queue(engine, b.rater_id)):
        at.session_state["pos"] = k
        at.run()
        text = page_text(at)
        for pattern in forbidden:
            assert not re.search(pattern, text, re.IGNORECASE), pattern
        data = item_data(at)
        assert data["status"] == "not rated yet" and data["own"] is None
        shared += ratings.rater_item(engine, b.rater_id, slot.assignment_id).image in theirs
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
    # the order an organiser needs: progress first, then scores, flagged items, export, import last
    assert [h.value for h in at.subheader] == ["Progress per rater", "Scores and agreement per task and model",
                                               "Flagged items", "Export", "Import ImagenHub TSVs"]
    scores, full, flagged = (d.value for d in at.dataframe)
    progress = at.table[0].value
    assert list(progress.index) == ["rater01", "rater02", "rater03", "rater04"]
    assert progress.loc["rater01", "flagged"] == 1 and (progress["open"] == 0).all()
    done = [tuple(map(int, d.split("/"))) for d in progress["done"]]
    assert all(a == b for a, b in done) and sum(b for _, b in done) == 18  # every assignment rated or flagged
    assert {"s / item", "gold correct", "attention passed", "consented"} <= set(progress.columns)
    assert list(scores["model"]) == ["references", "tiny"]  # the admin does see models...
    assert re.search(r"\btiny\b", page_text(at))  # ...and page_text (used for blindness) would catch them
    assert len(scores.columns) <= 11  # the main table fits; every column is in the expander
    assert {"fleiss_kappa_SC", "fleiss_kappa_PQ", "kripp_alpha_SC", "kripp_alpha_PQ"} <= set(full.columns)
    assert "computed separately on SC, on PQ and on O" in page_text(at)
    assert list(flagged["reason"]) == ["watermark all over it"] and flagged["rater"].tolist() == ["rater01"]
    assert flagged["thumbnail"].iloc[0].startswith("data:image/jpeg;base64,")
    assert flagged["open"].iloc[0] == f"?item={flagged['item'].iloc[0]}"
    # the link opens the item (models, every rating) once the admin is signed in
    link = AppTest.from_file(APP, default_timeout=60)
    link.query_params["item"] = str(flagged["item"].iloc[0])
    link.run()
    assert link.radio(key="page").value == "Admin"
    sign_in(link, tokens.admin, "admin_token", "Sign in as admin")
    assert link.subheader[0].value.startswith(f"Item {flagged['item'].iloc[0]} · style_subject · ")
    assert "watermark all over it" in page_text(link)

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
    consent(at)
    data = item_data(at)
    assert data["pos"] == 0 and data["images"] == [None]  # the page says "image missing: skip or flag this item"
    from ibench.human_eval import session

    slots = ratings.queue(engine, me.rater_id)
    out = session.apply(engine, me, slots, 0, {"type": "skip"})
    assert out.message == "Skipped item 1: it comes back at the end." and out.pos == 1
