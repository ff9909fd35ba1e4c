"""The Streamlit console entry: sign-in gate, then the navigation over the pages in pages/."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run app/console.py` puts app/ on sys.path, not the project root the pages import from.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from collections.abc import Callable  # noqa: E402
from html import escape  # noqa: E402
from urllib.parse import urlencode, urlsplit  # noqa: E402

import streamlit as st  # noqa: E402
from streamlit.navigation.page import StreamlitPage  # noqa: E402

from app.auth import sessions  # noqa: E402
from app.auth.service import SignedIn, authenticate, forget, identify, refresh, remember, signed_in  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.errors import DomainError  # noqa: E402
from app.logredact import install  # noqa: E402
from app.periodic.metrics import console_registry, postgres_ready, serve  # noqa: E402
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
    # The provider vouched for someone SLAR does not let in (unknown or deactivated): say so, offer a way out.
    try:
        with db() as session:
            identify(session=session, email=st.user.get("email"))
    except DomainError as err:
        show_error("Sign-in", err)
    else:
        # Let in since this page loaded (say, reactivated): a load trades the provider's word for a session.
        st.html(f'<a href="{escape(_here(), quote=True)}">Continue to SLAR</a>')
    st.button("Sign out of single sign-on", on_click=st.logout)


def sign_in_page() -> None:
    """The only screen before sign-in."""
    st.title("🚨 SLAR")
    st.caption("Smart Live Alert & Response: sign in to respond.")
    if get_settings().oidc_enabled:
        _oidc_sign_in()
    else:
        _local_sign_in()


def _cookie_mode() -> bool:
    """Behind app/web.py every sign-in (password or single sign-on) is a session cookie of ours."""
    return sessions.cookie_sign_in_enabled()


def _sign_out() -> None:
    if _cookie_mode():
        # Ends the session in Postgres: the cookie left in the browser can never sign in again.
        with db() as session:
            sessions.end_session(session=session, cookie=st.context.cookies.get(sessions.COOKIE_NAME))
    forget(st.session_state)
    if get_settings().oidc_enabled:
        # Through /auth/logout, which drops the cookies and signs out at the provider too.
        st.logout()


@st.cache_resource
def _metrics() -> int | None:
    """/metrics on SLAR_CONSOLE_METRICS_PORT, started once per console process (at its first run)."""
    return serve(console_registry(), get_settings().console_metrics_port, "console", ready=postgres_ready)


def _here() -> str:
    """The page and query string this browser shows, to come back to after signing in again."""
    path = urlsplit(st.context.url or "/").path or "/"
    query = urlencode(st.query_params.to_dict())
    return path + (f"?{query}" if query else "")


def session_ended_page() -> None:
    """Shown when the cookie's session ended (signed out, expired, revoked) while the page was open."""
    st.title("🚨 SLAR")
    st.info("You are signed out.", icon=":material/logout:")
    # Plain HTML: a markdown link would open the sign-in form in a new tab; this one stays in the tab.
    st.html(f'<a href="{escape(sessions.sign_in_url(_here()), quote=True)}">Sign in again</a>')


def _oidc_user() -> SignedIn | None:
    """The SLAR user the identity provider's cookie names, as the database has them now."""
    if not st.user.is_logged_in:
        return None
    try:
        with db() as session:
            return identify(session=session, email=st.user.get("email"))
    except DomainError:
        return None  # the sign-in screen says why


def _current() -> SignedIn | None:
    """Who this run is for, re-read every run: a role change, a revoked session, deactivation show at once."""
    if _cookie_mode():
        with db() as session:
            return sessions.session_user(session=session, cookie=st.context.cookies.get(sessions.COOKIE_NAME))
    if get_settings().oidc_enabled:
        return _oidc_user()
    who = signed_in(st.session_state)
    if who is None:
        return None
    with db() as session:
        return refresh(session=session, who=who)


def _gate_pages(gate: Callable[[], None]) -> list[StreamlitPage]:
    """The gate at every page's address: a deep link shows it (not "page not found") and keeps its URL."""
    paths = [spec.file.removesuffix(".py") for spec in present_pages() if spec.file != "overview.py"]
    return [st.Page(gate, title="Sign in", default=True)] + [
        st.Page(gate, title="Sign in", url_path=path) for path in paths
    ]


def main() -> None:
    install()
    st.set_page_config(page_title="SLAR console", page_icon="🚨", layout="wide")
    _metrics()
    who = _current()
    if who is None:
        forget(st.session_state)
        # Single sign-on signs in on its own screen; a password session ended mid-page points to /signin.
        gate = session_ended_page if _cookie_mode() and not get_settings().oidc_enabled else sign_in_page
        st.navigation(_gate_pages(gate), position="hidden").run()
        return
    remember(st.session_state, who)
    # Streamlit drops a widget's value after a run that does not draw it; re-assigning the list filters
    # (keys f_*) keeps them while a responder looks at one incident and comes back.
    for key in [k for k in st.session_state if str(k).startswith("f_")]:
        st.session_state[key] = st.session_state[key]
    sections: dict[str, list] = {}
    for spec in present_pages():
        sections.setdefault(spec.section, []).append(page(spec.file))
    nav = st.navigation(sections)
    if st.session_state.get("_page") != nav.url_path:
        # A new visit to a page (not a rerun within it): the incident list's "new" marker counts from it.
        st.session_state["_page"] = nav.url_path
        st.session_state["_visit"] = st.session_state.get("_visit", 0) + 1
    with st.sidebar:
        st.markdown(f"**{who.name}**  \n{who.email} · {who.role}")
        st.button("Sign out", on_click=_sign_out, key="sign_out")
    nav.run()
    # Marks the end of a full run, so a browser (checks, the render benchmark) knows the page is drawn.
    st.session_state["_runs"] = st.session_state.get("_runs", 0) + 1
    # It names the page too: a run of the page being left can finish after a click on another one.
    runs, shown = st.session_state["_runs"], escape(nav.url_path, quote=True)
    st.html(f'<span id="slar-run" data-run="{runs}" data-page="{shown}"></span>')


main()
