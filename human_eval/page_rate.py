"""The rater's page: sign in (a token pasted, or in the sign-in link: read, then dropped from the
address bar), the instructions and consent, then the queue item by item, blind and keyboard first.

Everything shown comes from ``ratings`` (which never returns model names, runs or other raters'
ratings). Each item is one component (``rater_view``) that fits a 1440×900 screen; its actions are
saved by ``session.apply`` in the component's callback, so the next item is drawn in the same run.
"""

from __future__ import annotations

from functools import partial
from typing import Optional

import streamlit as st
from sqlalchemy.engine import Engine

from ibench.human_eval import ratings

from . import rater_view, session
from .rubric import guide_markdown

STATE_KEY, POS_KEY, FLASH_KEY, NONCE_KEY = "rater", "pos", "flash", "nonce"
LAYOUT_CSS = """<style>
.block-container, [data-testid="stMainBlockContainer"] { padding-top: 0.6rem !important; padding-bottom: 0 !important; }
header[data-testid="stHeader"] { display: none; }
</style>"""
CONSENT = ("**What you will do.** For each item you see an instruction (text that refers to reference images), "
           "the references and the image(s) a model made from them. You rate how well each output follows the "
           "instruction and how good it looks, using the rubric below. The models are hidden.\n\n"
           "**What is stored.** Your rater name, your answers and the time you spend on each item. Nothing else "
           "about you is stored. Your ratings are saved as you go: you can stop at any time and sign in again "
           "later to continue.\n\n"
           "**Checks.** A few items have known answers or ask for a given answer; they tell the study's organisers "
           "whether the instructions are clear.")


def _sign_in(engine: Engine) -> None:
    token = st.query_params.get("token")
    if token:  # a sign-in link: use the token, then drop it from the address bar (and from history)
        st.query_params.clear()
        _enter(engine, token)
        return
    st.title("Rate images")
    st.write("Sign in with the rater token you were given (or open your sign-in link). Your ratings are saved as you "
             "go: you can stop at any time and sign in again later to continue.")
    with st.form("rater_sign_in"):
        token = st.text_input("Rater token", type="password", key="rater_token")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        _enter(engine, token)


def _enter(engine: Engine, token: str) -> None:
    ident = ratings.sign_in(engine, token)
    if ident is None:
        st.error("Unknown token.")
    elif ident.is_admin:
        st.error("This is an admin token: use it on the Admin page.")
    else:
        st.session_state[STATE_KEY] = ident
        st.session_state[POS_KEY] = ratings.next_slot(ratings.queue(engine, ident.rater_id))
        st.rerun()


def _sign_out() -> None:
    for key in (STATE_KEY, POS_KEY, FLASH_KEY):
        st.session_state.pop(key, None)


def _consent(engine: Engine, ident: ratings.Identity, instructions: Optional[str]) -> None:
    st.title("Before you start")
    if instructions:
        st.markdown(instructions)
    st.markdown(CONSENT)
    keys = rater_view.SHORTCUTS[ident.kind]
    st.markdown("**Keyboard.** " + " · ".join(f"`{k}` {t}" for k, t in keys))
    with st.expander("The rating rubric (ImagenHub's definitions)", expanded=ident.kind == "absolute"):
        st.markdown(guide_markdown())
    if st.button("I have read this and agree to take part", type="primary", key="consent"):
        ratings.consent(engine, ident.rater_id)
        st.session_state[STATE_KEY] = ratings.sign_in_by_id(engine, ident.rater_id)
        st.rerun()


def _on_action(engine: Engine, key: str, pos: int) -> None:
    """The component's callback: save what the rater did, move to the next item."""
    ident: ratings.Identity = st.session_state[STATE_KEY]
    action = getattr(st.session_state.get(key), "action", None) or {}
    st.session_state[NONCE_KEY] = st.session_state.get(NONCE_KEY, 0) + 1
    if action.get("type") == "signout":
        _sign_out()
        return
    slots = ratings.queue(engine, ident.rater_id)
    if not slots or not 0 <= pos < len(slots):
        return
    outcome = session.apply(engine, ident, slots, pos, action)
    st.session_state[POS_KEY] = outcome.pos
    st.session_state[FLASH_KEY] = {"text": outcome.message, "error": outcome.error} if outcome.message else None


def _done(slots: list[ratings.Slot]) -> None:
    st.title("Rate images")
    st.success(f"All {len(slots)} items are done. Thank you! You can still go back and change a rating.")
    cols = st.columns([1, 1, 4])
    if cols[0].button("Review my ratings", key="review"):
        st.session_state[POS_KEY] = 0
        st.rerun()
    if cols[1].button("Sign out", key="sign_out"):
        _sign_out()
        st.rerun()


def render(engine: Engine) -> None:
    """The whole rating page."""
    ident: Optional[ratings.Identity] = st.session_state.get(STATE_KEY)
    if ident is None:
        _sign_in(engine)
        return
    if not ident.consented:
        _consent(engine, ident, ratings.study_instructions(engine, ident.study_id))
        return
    slots = ratings.queue(engine, ident.rater_id)
    if not slots:
        st.info("No items are assigned to you.")
        return
    pos = st.session_state.get(POS_KEY)
    if pos is None or not 0 <= pos < len(slots):
        pos = ratings.next_slot(slots)
        if pos is None:
            _done(slots)
            return
        st.session_state[POS_KEY] = pos
    st.html(LAYOUT_CSS)
    item = ratings.rater_item(engine, ident.rater_id, slots[pos].assignment_id)
    data = rater_view.item_data(item, pos, slots, st.session_state.get(FLASH_KEY))
    data["nonce"] = st.session_state.get(NONCE_KEY, 0)
    key = f"item_{item.assignment_id}"
    rater_view.component()(key=key, data=data, on_action_change=partial(_on_action, engine, key, pos))
