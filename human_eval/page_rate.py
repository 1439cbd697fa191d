"""The rater's page: sign in with a token, then rate the queue item by item (blind).

Everything shown comes from ``ratings`` (which never returns model names, runs or other raters'
ratings). Ratings are saved on each action, so a rater can stop at any time and resume later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import streamlit as st
from sqlalchemy.engine import Engine

from ibench.errors import IbenchError, one_line

from ibench.human_eval import ratings
from . import blind
from .rubric import (
    CONDITION_LEVELS,
    LEVELS,
    PQ_LEVELS,
    PQ_OPTIONS,
    SC_LEVELS,
    guide_markdown,
)

STATE_KEY, POS_KEY, FLASH_KEY = "rater", "pos", "flash"


def _sign_in(engine: Engine) -> None:
    st.title("Rate images")
    st.write("Sign in with the rater token you were given. Your ratings are saved as you go: you can stop "
             "at any time and sign in again later to continue.")
    with st.form("rater_sign_in"):
        token = st.text_input("Rater token", type="password", key="rater_token")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    ident = ratings.sign_in(engine, token)
    if ident is None:
        st.error("Unknown token.")
    elif ident.is_admin:
        st.error("This is an admin token: use it on the Admin page.")
    else:
        st.session_state[STATE_KEY] = ident
        st.session_state[POS_KEY] = ratings.first_open(ratings.queue(engine, ident.rater_id))
        st.rerun()


def _describe(rating: Optional[ratings.OwnRating]) -> str:
    if rating is None:
        return "not rated yet"
    if rating.status == "rated":
        return f"rated: SC {rating.sc:g}, PQ {rating.pq:g} (version {rating.version})"
    reason = f" ({rating.reason})" if rating.reason else ""
    return f"{rating.status}{reason}"


def _go(index: Optional[int]) -> None:
    st.session_state[POS_KEY] = index


def _sidebar(ident: ratings.Identity, slots: list[ratings.Slot]) -> None:
    done = sum(s.status is not None for s in slots)
    with st.sidebar:
        st.markdown(f"Signed in as **{ident.name}**")
        st.progress(done / len(slots) if slots else 1.0, text=f"Progress: {done} of {len(slots)} done")
        if st.button("Sign out (your ratings are saved)", key="sign_out"):
            for key in (STATE_KEY, POS_KEY, FLASH_KEY):
                st.session_state.pop(key, None)
            st.rerun()


def _navigation(slots: list[ratings.Slot], pos: Optional[int]) -> None:
    labels = [f"#{i + 1} · {s.status or 'open'}" for i, s in enumerate(slots)]
    cols = st.columns([1, 1, 3])
    if cols[0].button("◀ Previous", key="nav_prev", disabled=not slots):
        _go(((pos if pos is not None else len(slots)) - 1) % len(slots))
        st.rerun()
    if cols[1].button("Next ▶", key="nav_next", disabled=not slots):
        _go(((pos if pos is not None else -1) + 1) % len(slots))
        st.rerun()
    choice = cols[2].selectbox("Go to item", list(range(len(slots))), index=pos, format_func=lambda i: labels[i],
                               key=f"nav_jump_{pos}", placeholder="Choose an item")
    if choice is not None and choice != pos:
        _go(choice)
        st.rerun()


def _images(paths: list[str], captions: list[str], width) -> None:  # noqa: ANN001
    """Show the images that exist; say which are missing (a moved run or data root) instead of failing."""
    found = [(p, c) for p, c in zip(paths, captions) if Path(p).is_file()]
    if found:
        st.image([p for p, _ in found], width=width, caption=[c for _, c in found])
    for p, c in zip(paths, captions):
        if not Path(p).is_file():
            st.warning(f"Image {c} is missing on the server; skip or flag this item.")


def _show_item(item: ratings.RaterItem) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Instruction")
        st.markdown(f"> {item.text}")
        for ref in item.references:
            st.markdown(f"**[{ref.marker}]** · {ref.kind}: {ref.caption}")
            _images(ref.images, [f"{ref.marker} view {k + 1}" for k in range(len(ref.images))], 150)
    with right:
        st.subheader("Output to rate")
        if item.image and Path(item.image).is_file():  # at one common size: pixel size must not reveal the model
            st.image(blind.rater_view(item.image), width="stretch", caption="output")
        elif item.image:
            _images([item.image], ["output"], "stretch")


def _rating_form(engine: Engine, ident: ratings.Identity, item: ratings.RaterItem, slots, pos: int) -> None:
    own = item.rating
    key = f"a{item.assignment_id}"
    with st.expander("Rating guide (ImagenHub's definitions)", expanded=False):
        st.markdown(guide_markdown())
    with st.form(f"rate_{key}"):
        st.markdown("**Semantic consistency (SC)**: rate each condition; SC is the minimum over them.")
        st.caption(" · ".join(SC_LEVELS.values()))
        values = []
        for i, cond in enumerate(item.checklist):
            old = own.conditions[i] if own and own.status == "rated" and i < len(own.conditions) else None
            values.append(st.radio(cond, LEVELS, index=None if old is None else LEVELS.index(old), horizontal=True,
                                   format_func=CONDITION_LEVELS.get, key=f"{key}_sc{i}"))
        st.markdown("**Perceptual quality (PQ)**")
        st.caption(" · ".join(PQ_LEVELS.values()))
        old_pq = own.pq if own and own.status == "rated" else None
        pq = st.radio("Perceptual quality of the output", LEVELS, horizontal=True, format_func=PQ_OPTIONS.get,
                      index=None if old_pq is None else LEVELS.index(old_pq), key=f"{key}_pq")
        reason = st.text_input("Reason (needed to flag; optional to skip)", key=f"{key}_reason")
        cols = st.columns(3)
        save = cols[0].form_submit_button("Save rating", type="primary")
        do_skip = cols[1].form_submit_button("Skip")
        do_flag = cols[2].form_submit_button("Flag")
    try:
        if save:
            if any(v is None for v in values) or pq is None:
                st.error("Choose a value for every condition and for PQ before saving.")
                return
            version = ratings.rate(engine, ident.rater_id, item.assignment_id, values, pq)
            _after(slots, pos, f"Saved item #{pos + 1}: SC {min(values):g}, PQ {pq:g}"
                   + (" (changed)" if version > 1 else "") + ".")
        elif do_skip:
            ratings.skip(engine, ident.rater_id, item.assignment_id, reason)
            _after(slots, pos, f"Skipped item #{pos + 1}.")
        elif do_flag:
            if not reason.strip():
                st.error("Write a reason to flag this item.")
                return
            ratings.flag(engine, ident.rater_id, item.assignment_id, reason)
            _after(slots, pos, f"Flagged item #{pos + 1}.")
    except IbenchError as exc:
        st.error(one_line(exc))


def _after(slots: list[ratings.Slot], pos: int, message: str) -> None:
    st.session_state[FLASH_KEY] = message
    nxt = ratings.first_open(slots, pos + 1)
    _go(None if nxt == pos else nxt)
    st.rerun()


def render(engine: Engine) -> None:
    """The whole rating page."""
    ident: Optional[ratings.Identity] = st.session_state.get(STATE_KEY)
    if ident is None:
        _sign_in(engine)
        return
    slots = ratings.queue(engine, ident.rater_id)
    _sidebar(ident, slots)
    st.title("Rate images")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash)
    if not slots:
        st.info("No items are assigned to you.")
        return
    pos = st.session_state.get(POS_KEY)
    if pos is not None and not 0 <= pos < len(slots):
        pos = None
    if pos is None:
        pos = ratings.first_open(slots)
        if pos is None:
            st.success(f"All {len(slots)} items are done. Thank you! You can still go back and change a rating.")
        else:
            _go(pos)
    _navigation(slots, pos)
    if pos is None:
        return
    item = ratings.rater_item(engine, ident.rater_id, slots[pos].assignment_id)
    st.markdown(f"### Item {pos + 1} of {len(slots)} — {_describe(item.rating)}")
    _show_item(item)
    _rating_form(engine, ident, item, slots, pos)
