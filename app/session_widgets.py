"""Signed-in browsers: a person's console sessions, each one revocable (theirs, or anyone's for an admin)."""

from __future__ import annotations

import streamlit as st

from app.auth import sessions
from app.auth.verdicts import ALLOWED, admin_only
from app.widgets import act, age, db, flash, local


def _this_cookie() -> str | None:
    return st.context.cookies.get(sessions.COOKIE_NAME)


def sessions_panel(user_id: int, name: str, by: int, zone: str) -> None:
    """One line per browser signed in as `name`, with Sign out; and a way to sign out all the others."""
    if not sessions.cookie_sign_in_enabled():
        return  # a bare `streamlit run` keeps sign-in per tab: there are no sessions to list
    own = user_id == by
    with db() as session:
        verdict = ALLOWED if own else admin_only(session, by, f"sign out {name}'s browsers")
        if verdict.disabled:
            return  # when and where colleagues signed in is theirs and the admins' to see
        rows = sessions.open_sessions(session=session, user_id=user_id)
        here = sessions.session_id_of(session=session, cookie=_this_cookie())
    st.markdown("**Your signed-in browsers**" if own else f"**Browsers signed in as {name}**")
    st.caption("Each browser that signed in has its own session; signing one out ends it at its next click.")
    if not rows:
        st.caption(f"No browser is signed in as {name}.")
        return
    for row in rows:
        with st.container(key=f"session-{row.id}", horizontal=True, vertical_alignment="center"):
            mark = " · **this browser**" if row.id == here else ""
            st.markdown(
                f"Signed in {local(row.created_at, zone)} · active {age(row.last_seen_at)} ago"
                f" · until {local(row.expires_at, zone)}{mark}",
                width="stretch",
            )
            if row.id == here:
                continue  # this browser signs out with the sidebar's Sign out
            clicked = st.button("Sign out", key=f"end_session_{row.id}")
            if clicked and act("Sign out browser", sessions.revoke_session, session_id=row.id, by=by):
                flash(f"Signed out one browser of {name}.")
                st.rerun()
    others = [row for row in rows if row.id != here]
    label = "Sign out other browsers" if own else f"Sign out all of {name}'s browsers"
    if others and st.button(label, key="end_sessions"):
        ended = act(
            "Sign out browsers",
            sessions.end_sessions_by,
            by=by,
            user_id=user_id,
            keep=_this_cookie() if own else None,
        )
        if ended is not None:
            flash(f"Signed out {ended} browser{'s' if ended != 1 else ''} of {name}.")
            st.rerun()
