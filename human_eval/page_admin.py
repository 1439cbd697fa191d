"""The admin page (admin token only), in the order an organiser needs it: progress and rater accuracy,
scores (or the pairwise ranking), flagged items with a thumbnail and a link to each, export, import."""

from __future__ import annotations

from typing import Optional

import streamlit as st
from sqlalchemy.engine import Engine

from ibench.errors import IbenchError, one_line

from ibench.human_eval import ratings
from .aggregate import ratings_frame, summary_table
from .export import csv_text
from .imagenhub import frame_for_export, import_uploads, zip_tsvs
from .media import data_uri
from .monitor import accuracy_table, flagged_table, item_detail, progress_table

STATE_KEY = "admin"
THUMB = 96
SCORE_VIEW = ["task", "model", "n_items", "n_raters", "SC_mean", "PQ_mean", "O_mean", "O_std", "O_of_means",
              "fleiss_kappa", "kripp_alpha"]
AGREEMENT_NOTE = ("SC, PQ and O: per sample O = √(SC·PQ); mean per rater, then mean ± std over raters "
                  "(ImagenHub). O_of_means = √(mean SC · mean PQ). Agreement is computed separately on SC, on "
                  "PQ and on O (columns say which): Fleiss' κ (statsmodels, items with the full number of "
                  "ratings) and Krippendorff's α, ordinal (krippendorff package, raters × items). "
                  "Only ratings of the study's main items count; skips, flags, practice, gold and attention "
                  "items do not.")
PAIRWISE_NOTE = ("Bradley–Terry strength θ per task and question (ties count half; 95% CIs resample instances), "
                 "wins / losses / ties, and the share of decided verdicts won by the output shown on the left "
                 "(0.5: no position bias).")


def _sign_in(engine: Engine) -> None:
    st.title("Admin")
    with st.form("admin_sign_in"):
        token = st.text_input("Admin token", type="password", key="admin_token")
        submitted = st.form_submit_button("Sign in as admin")
    if not submitted:
        st.info("This page needs the study's admin token.")
        return
    ident = ratings.sign_in(engine, token)
    if ident is None:
        st.error("Refused: unknown token.")
    elif not ident.is_admin:
        st.error("Refused: this is a rater token, not an admin token.")
    else:
        st.session_state[STATE_KEY] = ident
        st.rerun()


def _import(engine: Engine, ident: ratings.Identity) -> None:
    st.subheader("Import ImagenHub TSVs")
    st.caption("One file per rater and task, named <Task>_<rater>.tsv: a uid column, then one column per model, "
               "cells [SC, PQ]. Rows that match this study's items (task, model, uid) update them, with history.")
    files = st.file_uploader("ImagenHub TSV files", type=["tsv"], accept_multiple_files=True, key="import_files")
    task = st.text_input("Task name (optional: taken from the file names)", key="import_task")
    if st.button("Import", key="import_go"):
        if not files:
            st.error("Choose one or more .tsv files first.")
            return
        try:
            uploads = [(f.name, f.getvalue()) for f in files]
            _, n, same = import_uploads(engine, uploads, ident.study, task.strip() or None)
        except IbenchError as exc:
            st.error(one_line(exc))
            return
        st.success(f"Imported {n} ratings from {len(files)} file(s) ({same} unchanged).")


def _progress(engine: Engine, ident: ratings.Identity) -> None:
    st.subheader("Progress per rater")
    progress = progress_table(engine, ident.study_id)
    accuracy = accuracy_table(engine, ident.study_id)
    total, done = int(progress["assigned"].sum()), int((progress["rated"] + progress["flagged"]).sum())
    st.progress(done / total if total else 1.0, text=f"{done} of {total} assignments done")
    st.table(rater_table(progress.merge(accuracy, on="rater", how="left")))
    st.caption("Gold items have known answers (exact match counts as correct); attention checks ask for a given "
               "answer. Seconds: the time an item was on screen before it was saved (median over the rater's items).")


def _share(done, total) -> str:  # noqa: ANN001
    return "—" if not total else f"{int(done)}/{int(total)} ({100 * done / total:.0f}%)"


def rater_table(table):  # noqa: ANN001, ANN201 - a pandas DataFrame
    """Progress and accuracy per rater, formatted to read at a glance (a static table: it fits)."""
    import pandas as pd

    out = pd.DataFrame({
        "rater": table["rater"], "done": [f"{r + f}/{a}" for r, f, a in zip(table["rated"], table["flagged"],
                                                                             table["assigned"])],
        "rated": table["rated"], "skipped": table["skipped"], "flagged": table["flagged"], "open": table["open"],
        "s / item": ["—" if pd.isna(v) else f"{v:.1f}" for v in table["seconds_per_item"]],
        "gold correct": [_share(c, n) for c, n in zip(table["gold_correct"], table["gold"])],
        "attention passed": [_share(c, n) for c, n in zip(table["attention_passed"], table["attention"])],
        "consented": ["yes" if pd.notna(v) else "no" for v in table["consented"]],
        "last activity": ["—" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M") for v in
                          table["last_activity"]]})
    return out.set_index("rater")


def _scores(engine: Engine, ident: ratings.Identity) -> None:
    if ident.kind == "pairwise":
        from .pairwise import preferences, rankings

        st.subheader("Ranking per task (Bradley–Terry)")
        prefs = preferences(engine, ident.study_id)
        if not prefs:
            st.info("No verdicts yet.")
        else:
            st.dataframe(rankings(prefs, resamples=200).round(3), hide_index=True, key="ranking_table")
        st.caption(PAIRWISE_NOTE)
        return
    st.subheader("Scores and agreement per task and model")
    frame = ratings_frame(engine, ident.study_id)
    rated = frame[frame["status"] == "rated"]
    if rated.empty:
        st.info("No ratings yet.")
        return
    table = summary_table(rated).round(3)
    st.dataframe(table[SCORE_VIEW], hide_index=True, key="scores_table")
    with st.expander("Every column (agreement on SC, PQ and O)"):
        st.dataframe(table, hide_index=True, key="scores_full")
    st.caption(AGREEMENT_NOTE)


def _flagged(engine: Engine, ident: ratings.Identity) -> None:
    st.subheader("Flagged items")
    flagged = flagged_table(engine, ident.study_id)
    if flagged.empty:
        st.info("No flagged items.")
        return
    shown = flagged.drop(columns=["image"])
    shown.insert(0, "thumbnail", [data_uri(p, THUMB) for p in flagged["image"]])
    shown.insert(1, "open", [f"?item={i}" for i in flagged["item"]])
    picked = st.dataframe(shown, hide_index=True, key="flagged_table", on_select="rerun", selection_mode="single-row",
                          column_config={"thumbnail": st.column_config.ImageColumn("image"),
                                         "open": st.column_config.LinkColumn("link", display_text="open")})
    rows = getattr(getattr(picked, "selection", None), "rows", []) or []
    if rows:
        st.session_state["admin_item"] = int(flagged["item"].iloc[rows[0]])


def _item(engine: Engine, ident: ratings.Identity) -> None:
    """The item named by ``?item=ID`` (a link from the flagged table) or picked in it."""
    wanted = st.session_state.get("admin_item") or st.query_params.get("item")
    if not wanted:
        return
    try:
        detail = item_detail(engine, ident.study_id, int(wanted))
    except ValueError:
        detail = None
    if detail is None:
        st.warning(f"No item {wanted} in this study.")
        return
    st.subheader(f"Item {detail['item']} · {detail['task']} · {detail['model']}"
                 + (f" vs {detail['model_b']}" if detail["model_b"] else ""))
    st.caption(f"{detail['instance_id']} #{detail['sample']} · run {detail['run_id']} · role {detail['role']}")
    st.markdown(f"> {detail['text']}")
    images = [p for p in (detail["image"], detail["image_b"]) if p]
    cols = st.columns(max(len(images), 1) + 1)
    for col, path in zip(cols, images):
        uri = data_uri(path, 384)
        if uri:
            col.image(uri)
        else:
            col.warning("image missing")
    if not detail["ratings"].empty:
        st.dataframe(detail["ratings"], hide_index=True, key="item_ratings")
    if st.button("Close item", key="close_item"):
        st.session_state.pop("admin_item", None)
        st.query_params.pop("item", None)
        st.rerun()


def _export(engine: Engine, ident: ratings.Identity) -> None:
    st.subheader("Export")
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in ident.study)
    frame = ratings_frame(engine, ident.study_id)
    st.download_button("Download ratings (CSV)", csv_text(frame), file_name=f"{safe}-ratings.csv",
                       mime="text/csv", key="export_csv")
    st.download_button("Download ImagenHub TSVs (zip)", zip_tsvs(frame_for_export(frame)),
                       file_name=f"{safe}-imagenhub.zip", mime="application/zip", key="export_tsv")
    if ident.kind == "pairwise":
        from .pairwise import preferences

        text = "".join(p.model_dump_json() + "\n" for p in preferences(engine, ident.study_id))
        st.download_button("Download verdicts (pairwise.jsonl)", text, file_name=f"{safe}-pairwise.jsonl",
                           mime="application/jsonl", key="export_pairwise")


def render(engine: Engine) -> None:
    """The whole admin page."""
    ident: Optional[ratings.Identity] = st.session_state.get(STATE_KEY)
    if ident is None:
        _sign_in(engine)
        return
    with st.sidebar:
        if st.button("Sign out of admin", key="admin_sign_out"):
            st.session_state.pop(STATE_KEY, None)
            st.rerun()
    st.title(f"Admin · study {ident.study}")
    _item(engine, ident)
    _progress(engine, ident)
    _scores(engine, ident)
    _flagged(engine, ident)
    _export(engine, ident)
    _import(engine, ident)
