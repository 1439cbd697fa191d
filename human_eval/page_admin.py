"""The admin page (admin token only): progress, live agreement, flagged items, export, import."""

from __future__ import annotations

from typing import Optional

import streamlit as st
from sqlalchemy.engine import Engine

from ibench.errors import IbenchError, one_line

from ibench.human_eval import ratings
from .aggregate import ratings_frame, summarize
from .export import csv_text
from .imagenhub import frame_for_export, import_uploads, zip_tsvs
from .monitor import flagged_table, progress_table

STATE_KEY = "admin"
AGREEMENT_NOTE = ("SC, PQ and O: per sample O = √(SC·PQ); mean per rater, then mean ± std over raters "
                  "(ImagenHub). O_of_means = √(mean SC · mean PQ). Agreement is computed separately on SC, on "
                  "PQ and on O (columns say which): Fleiss' κ (statsmodels, items with the full number of "
                  "ratings) and Krippendorff's α, ordinal (krippendorff package, raters × items). "
                  "Only ratings count; skips and flags do not.")


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
    _import(engine, ident)

    st.subheader("Progress per rater")
    st.dataframe(progress_table(engine, ident.study_id), hide_index=True)

    frame = ratings_frame(engine, ident.study_id)
    st.subheader("Scores and agreement per task and model")
    rated = frame[frame["status"] == "rated"]
    if rated.empty:
        st.info("No ratings yet.")
    else:
        st.dataframe(summarize(rated).round(4), hide_index=True)
    st.caption(AGREEMENT_NOTE)

    st.subheader("Flagged items")
    flagged = flagged_table(engine, ident.study_id)
    if flagged.empty:
        st.info("No flagged items.")
    else:
        st.dataframe(flagged, hide_index=True)

    st.subheader("Export")
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in ident.study)
    st.download_button("Download ratings (CSV)", csv_text(frame), file_name=f"{safe}-ratings.csv",
                       mime="text/csv", key="export_csv")
    st.download_button("Download ImagenHub TSVs (zip)", zip_tsvs(frame_for_export(frame)),
                       file_name=f"{safe}-imagenhub.zip", mime="application/zip", key="export_tsv")
