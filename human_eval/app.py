"""ibench human evaluation: ``streamlit run human_eval/app.py [-- --db URL]`` or ``ibench human serve``.

The database comes from ``--db`` (after ``--``), else ``$IBENCH_HUMAN_DB``, else ``ibench-human.db``.
"""

from __future__ import annotations

import argparse
import sys

import streamlit as st

from ibench.errors import IbenchError, one_line
from ibench.human_eval import page_admin, page_rate
from ibench.human_eval.store import get_engine


def _db_arg() -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.db


def main() -> None:
    st.set_page_config(page_title="ibench human evaluation", layout="wide", initial_sidebar_state="collapsed")
    try:
        engine = get_engine(_db_arg())
    except IbenchError as exc:
        st.error(one_line(exc))
        return
    admin_link = "item" in st.query_params or st.query_params.get("page") == "admin"  # e.g. a flagged item's link
    page = st.sidebar.radio("Page", ["Rate", "Admin"], key="page", index=1 if admin_link else 0)
    if page == "Admin":
        page_admin.render(engine)
    else:
        page_rate.render(engine)


main()
