"""The Streamlit console entry: sign-in gate, then the navigation over the pages in pages/."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run app/console.py` puts app/ on sys.path, not the project root the pages import from.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from app.auth.service import authenticate, forget, identify, refresh, remember, signed_in  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.errors import DomainError  # noqa: E402
from app.widgets import db, page, present_pages, show_error  # noqa: E402


def _local_sign_in() -> None:
    with st.form("sign_in"):
        email = st.text_input("E-mail", key="sign_in_email")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            with db() as session:
                remember(st.session_state, authenticate(session=session, email=email, password=password))
        except DomainError as err:
            show_error("Sign-in", err)
            return
        st.rerun()


def _oidc_sign_in() -> None:
    if not st.user.is_logged_in:
        st.button("Sign in with single sign-on", type="primary", on_click=st.login)
        return
    try:
        with db() as session:
            remember(st.session_state, identify(session=session, email=st.user.get("email")))
    except DomainError as err:
        show_error("Sign-in", err)
        st.button("Sign out of single sign-on", on_click=st.logout)
        return
    st.rerun()


def sign_in_page() -> None:
    """The only screen before sign-in."""
    st.title("🚨 SLAR")
    st.caption("Smart Live Alert & Response: sign in to respond.")
    if get_settings().oidc_enabled:
        _oidc_sign_in()
    else:
        _local_sign_in()


def _sign_out() -> None:
    forget(st.session_state)
    if get_settings().oidc_enabled and st.user.is_logged_in:
        st.logout()


def main() -> None:
    st.set_page_config(page_title="SLAR console", page_icon="🚨", layout="wide")
    who = signed_in(st.session_state)
    if who is not None:
        # Re-read every run: a role change shows at once, a deactivated account is signed out.
        with db() as session:
            who = refresh(session=session, who=who)
        if who is None:
            forget(st.session_state)
        else:
            remember(st.session_state, who)
    if who is None:
        st.navigation([st.Page(sign_in_page, title="Sign in")], position="hidden").run()
        return
    # Streamlit drops a widget's value after a run that does not draw it; re-assigning the list filters
    # (keys f_*) keeps them while a responder looks at one incident and comes back.
    for key in [k for k in st.session_state if str(k).startswith("f_")]:
        st.session_state[key] = st.session_state[key]
    sections: dict[str, list] = {}
    for spec in present_pages():
        sections.setdefault(spec.section, []).append(page(spec.file))
    nav = st.navigation(sections)
    with st.sidebar:
        st.markdown(f"**{who.name}**  \n{who.email} · {who.role}")
        st.button("Sign out", on_click=_sign_out, key="sign_out")
    nav.run()
    # Marks the end of a full run, so a browser (checks, the render benchmark) knows the page is drawn.
    st.session_state["_runs"] = st.session_state.get("_runs", 0) + 1
    st.html(f'<span id="slar-run" data-run="{st.session_state["_runs"]}"></span>')


main()
