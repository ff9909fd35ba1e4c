"""Single sign-on in Chromium against a loopback OpenID Connect provider: Streamlit's st.login for real.

The deep link survives the provider round trip, the sign-in survives reloads and new tabs, signing out
ends it, and SLAR (not the provider) decides who gets in: deactivated or unknown people are refused.
Each browser's sign-in becomes a SLAR session of its own, which its owner or an admin can revoke.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from app.auth.models import ConsoleSession
from app.auth.oidc import NEXT_COOKIE
from app.auth.secrets import token_hash
from app.auth.sessions import COOKIE_NAME as SESSION
from app.db import session_scope
from app.directory.models import User
from app.incidents.models import Incident
from tests import browser, console_data
from tests.console_data import Demo
from tests.oidc_provider import Identity, OidcProvider

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
IDENTITY = "_streamlit_user"  # Streamlit's identity cookie
TOKENS = "_streamlit_user_tokens"  # and the provider's tokens beside it
BOB = Identity("bob@example.test", "Bob B")
ALICE = Identity("alice@example.test", "Alice A")
ADA = Identity("admin@example.test", "Ada Admin")


@pytest.fixture(scope="module")
def console(output_dir: Path) -> Iterator[tuple[str, Demo, OidcProvider]]:
    with console_data.database_for_console() as url, OidcProvider() as provider:
        demo = console_data.build_demo()
        env = {
            "SLAR_OIDC_ENABLED": "true",
            "SLAR_OIDC_CLIENT_ID": provider.client_id,
            "SLAR_OIDC_CLIENT_SECRET": provider.client_secret,
            "SLAR_OIDC_SERVER_METADATA_URL": provider.metadata_url,
            # Streamlit fills in its own port; the console's port is only known once it starts.
            "SLAR_OIDC_REDIRECT_URI": "http://127.0.0.1:{port}/oauth2callback",
        }
        with browser.console_server(url, output_dir / "browser-oidc.log", extra_env=env) as base:
            yield base, demo, provider


def _heading(incident_id: int) -> str:
    with session_scope() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None
        return f"#{inc.number} {inc.title}"


def _cookie(page, name: str) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == name), None)


def _single_sign_on(page) -> None:
    page.get_by_role("button", name="Sign in with single sign-on").click()


def _session_row(page) -> ConsoleSession:
    """The session row behind this browser's cookie (found by its hash, as the console finds it)."""
    cookie = _cookie(page, SESSION)
    assert cookie is not None, "no SLAR session cookie in this browser"
    with session_scope() as s:
        row = s.scalar(
            select(ConsoleSession).where(
                ConsoleSession.token_hash == token_hash(cookie["value"].rpartition(".")[0])
            )
        )
        assert row is not None
        s.expunge(row)
        return row


def _signed_out_screen(page) -> None:
    page.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=30_000)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def _set_active(user_id: int, active: bool) -> None:
    with session_scope() as s:
        user = s.get(User, user_id)
        assert user is not None
        user.active = active


def test_a_deep_link_survives_the_provider_round_trip_reloads_and_new_tabs_until_sign_out(
    console, output_dir: Path
) -> None:
    base, demo, provider = console
    provider.user = BOB
    heading = _heading(demo.incident_b)
    with browser.chromium_page() as page:
        page.goto(f"{base}/incident?id={demo.incident_b}")
        # Not signed in: the sign-in screen at the very address asked for (not "page not found").
        page.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=30_000)
        assert page.url == f"{base}/incident?id={demo.incident_b}"
        page.screenshot(path=str(output_dir / "oidc-sign-in.png"))
        _single_sign_on(page)
        # Back from the provider (whose callback lands on the root) on exactly the page asked for.
        page.get_by_role("heading", name=heading).wait_for(timeout=30_000)
        assert page.url == f"{base}/incident?id={demo.incident_b}"
        page.screenshot(path=str(output_dir / "oidc-deep-link.png"))
        # The real protocol ran: a code flow with state, nonce and PKCE, and one token exchange.
        asked = provider.calls_to("/authorize")[-1].body
        assert asked["response_type"] == "code" and asked["state"] and asked["nonce"]
        assert asked["code_challenge_method"] == "S256"
        assert parse_qs(urlsplit(asked["redirect_uri"]).query) == {}
        assert asked["redirect_uri"] == f"{base}/oauth2callback"
        assert len(provider.calls_to("/token")) == 1
        # Streamlit's 30-day identity cookie was traded for a revocable SLAR session of Bob's.
        assert _cookie(page, IDENTITY) is None and _cookie(page, TOKENS) is None
        kept = _cookie(page, SESSION)
        assert kept is not None and kept["httpOnly"] and kept["expires"] > 0
        row = _session_row(page)
        assert row.user_id == demo.bob and row.revoked_at is None
        assert _cookie(page, NEXT_COOKIE) is None  # followed once, then dropped
        assert SESSION not in page.evaluate("document.cookie")
        # A reload keeps the sign-in and the view; so does a new tab on a filtered list.
        page.reload()
        page.get_by_role("heading", name=heading).wait_for(timeout=30_000)
        tab = page.context.new_page()
        tab.goto(f"{base}/incidents?status=resolved")
        tab.get_by_role("heading", name="Incidents").wait_for(timeout=30_000)
        browser.settled(tab)
        tab.get_by_text("Checkout 5xx burst").first.wait_for(timeout=30_000)
        assert tab.get_by_text("Disk almost full on db-1").count() == 0
        assert browser.exceptions(tab) == []
        assert len(provider.calls_to("/token")) == 1  # no second round trip for either
        assert _session_row(tab).id == row.id  # the new tab is the same browser, the same session
        # Signing out ends the session, drops its cookie and signs out at the provider; a reload stays out.
        logouts = len(provider.calls_to("/logout"))
        tab.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        tab.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=30_000)
        assert _cookie(tab, SESSION) is None and _cookie(tab, IDENTITY) is None
        assert len(provider.calls_to("/logout")) == logouts + 1
        with session_scope() as s:
            ended = s.get(ConsoleSession, row.id)
            assert ended is not None and ended.revoked_at is not None
        tab.screenshot(path=str(output_dir / "oidc-signed-out.png"))
        page.reload()
        page.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=30_000)
        assert page.get_by_role("heading", name=heading).count() == 0


def test_a_deactivated_user_is_out_at_the_next_run_though_the_provider_still_vouches(
    console, output_dir: Path
) -> None:
    base, demo, provider = console
    provider.user = ALICE
    with browser.chromium_page() as page:
        page.goto(f"{base}/people")
        _single_sign_on(page)
        page.get_by_role("heading", name="People & teams").wait_for(timeout=30_000)
        assert page.url == f"{base}/people"
        _set_active(demo.alice, False)
        try:
            page.reload()
            _signed_out_screen(page)  # her session ended with the account
            # Signing in again: the provider still vouches for her, SLAR does not let her in.
            _single_sign_on(page)
            refusal = page.get_by_text("no active SLAR account for alice@example.test")
            refusal.wait_for(timeout=30_000)
            assert page.get_by_role("heading", name="People & teams").count() == 0
            assert _cookie(page, IDENTITY) is not None  # the provider's word alone does not let her in
            assert _cookie(page, SESSION) is None
            page.screenshot(path=str(output_dir / "oidc-deactivated.png"))
            page.get_by_role("button", name="Sign out of single sign-on").click()
            page.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=30_000)
            assert _cookie(page, IDENTITY) is None
        finally:
            _set_active(demo.alice, True)


def test_an_identity_that_is_no_slar_user_is_refused_with_a_way_out(console, output_dir: Path) -> None:
    base, _, provider = console
    provider.user = Identity("stranger@elsewhere.test", "Stranger")
    with browser.chromium_page() as page:
        page.goto(f"{base}/incidents")
        _single_sign_on(page)
        page.get_by_text("no active SLAR account for stranger@elsewhere.test").wait_for(timeout=30_000)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        page.screenshot(path=str(output_dir / "oidc-unknown-identity.png"))
        page.get_by_role("button", name="Sign out of single sign-on").click()
        page.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=30_000)


def test_the_kept_page_is_httponly_local_only_and_needs_a_signed_identity(console) -> None:
    base, demo, _ = console
    html = {"accept": "text/html"}
    kept = httpx.get(f"{base}/incident?id={demo.incident_a}", headers=html)
    assert kept.status_code == 200
    cookie = kept.headers["set-cookie"]
    assert cookie.startswith(f"{NEXT_COOKIE}=%2Fincident%3Fid%3D{demo.incident_a};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=600" in cookie
    # A forged identity cookie is not signed in: the kept page is not followed, only kept again.
    forged = httpx.get(
        f"{base}/",
        headers=html,
        cookies={IDENTITY: '{"email": "bob@example.test"}', NEXT_COOKIE: "%2Fpeople"},
    )
    assert forged.status_code == 200 and "location" not in forged.headers
    # The root is not worth keeping (the callback lands there anyway).
    assert "set-cookie" not in httpx.get(f"{base}/", headers=html).headers


def test_each_browser_signs_in_to_its_own_session_and_revoking_one_signs_out_only_that_browser(
    console, output_dir: Path
) -> None:
    base, demo, provider = console
    provider.user = BOB
    with browser.chromium_page() as laptop:
        phone = laptop.context.browser.new_context(viewport=browser.VIEWPORT).new_page()
        for page in (phone, laptop):  # the laptop's page is drawn once both are signed in
            page.goto(f"{base}/people")
            _single_sign_on(page)
            page.get_by_role("heading", name="People & teams").wait_for(timeout=30_000)
        on_laptop, on_phone = _session_row(laptop), _session_row(phone)
        assert on_laptop.id != on_phone.id and on_laptop.user_id == on_phone.user_id == demo.bob
        # On the laptop, Bob's People page lists both of his browsers; the laptop is "this browser".
        mine = laptop.locator(f".st-key-session-{on_laptop.id}")
        mine.wait_for(timeout=30_000)
        assert "this browser" in mine.inner_text() and mine.get_by_role("button").count() == 0
        other = laptop.locator(f".st-key-session-{on_phone.id}")
        assert "this browser" not in other.inner_text()
        browser.settled(laptop)
        laptop.screenshot(path=str(output_dir / "oidc-browsers.png"))
        other.get_by_role("button", name="Sign out").click()
        laptop.get_by_text("Signed out one browser of Bob B.").wait_for(timeout=30_000)
        assert laptop.locator(f".st-key-session-{on_phone.id}").count() == 0
        # Reloaded, the phone is at the sign-in screen and the laptop is still in.
        phone.reload()
        _signed_out_screen(phone)
        assert phone.get_by_role("heading", name="People & teams").count() == 0
        laptop.reload()
        laptop.get_by_role("heading", name="People & teams").wait_for(timeout=30_000)
        assert _session_row(laptop).revoked_at is None
        assert _session_row(phone).revoked_at is not None  # its dead cookie stays, and signs nobody in
        phone.screenshot(path=str(output_dir / "oidc-browser-revoked.png"))
        # An admin ends every browser of Bob's from Bob's entry on the People page.
        provider.user = ADA
        admin = laptop.context.browser.new_context(viewport=browser.VIEWPORT).new_page()
        admin.goto(f"{base}/people")
        _single_sign_on(admin)
        admin.get_by_role("heading", name="People & teams").wait_for(timeout=30_000)
        browser.choose(admin, "Contact details of", "Bob B")
        admin.get_by_role("button", name="Sign out all of Bob B's browsers").click()
        admin.get_by_text("Signed out 1 browser of Bob B.").wait_for(timeout=30_000)
        laptop.reload()
        _signed_out_screen(laptop)
        admin.reload()
        admin.get_by_role("heading", name="People & teams").wait_for(timeout=30_000)
        assert browser.exceptions(admin) == []
