"""Cookie sign-in in Chromium: deep links survive sign-in, reloads and new tabs; sign-out ends the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.auth.models import ConsoleSession
from app.auth.sessions import COOKIE_NAME
from app.db import session_scope
from app.directory.models import User
from app.incidents.models import Incident
from tests import browser, console_data
from tests.console_data import PASSWORD, Demo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]


@pytest.fixture(scope="module")
def console(output_dir: Path) -> Iterator[tuple[str, Demo]]:
    with console_data.database_for_console() as url:
        demo = console_data.build_demo()
        with browser.console_server(url, output_dir / "browser-sign-in.log") as base:
            yield base, demo


def _fill(page, email: str) -> None:
    page.get_by_role("textbox", name="E-mail").fill(email)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _number(incident_id: int) -> tuple[int, str]:
    with session_scope() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None
        return inc.number, inc.title


def test_a_deep_link_signs_in_and_lands_on_that_incident_then_survives_reload_and_new_tab(
    console, output_dir: Path
) -> None:
    base, demo = console
    number, title = _number(demo.incident_b)
    with browser.chromium_page() as page:
        page.goto(f"{base}/incident?id={demo.incident_b}")
        # Not signed in: the console's own sign-in form, remembering where we were going.
        page.wait_for_url("**/signin?next=*")
        assert "next=%2Fincident%3Fid%3D" in page.url
        page.screenshot(path=str(output_dir / "sign-in-form.png"))
        _fill(page, "bob@example.test")
        page.wait_for_url(f"**/incident?id={demo.incident_b}")
        page.get_by_role("heading", name=f"#{number} {title}").wait_for(timeout=30_000)
        page.screenshot(path=str(output_dir / "sign-in-deep-link.png"))
        cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE_NAME)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
        assert COOKIE_NAME not in page.evaluate("document.cookie")  # scripts cannot read it
        # A reload keeps the sign-in and the view.
        page.reload()
        page.get_by_role("heading", name=f"#{number} {title}").wait_for(timeout=30_000)
        assert "/signin" not in page.url
        # So does a new tab on another deep link, with the list's filters in the query string.
        tab = page.context.new_page()
        tab.goto(f"{base}/incidents?status=resolved")
        tab.get_by_role("heading", name="Incidents").wait_for(timeout=30_000)
        browser.settled(tab)
        tab.get_by_text("Checkout 5xx burst").first.wait_for(timeout=30_000)
        assert tab.get_by_text("Disk almost full on db-1").count() == 0
        tab.screenshot(path=str(output_dir / "sign-in-new-tab-filtered.png"))
        assert browser.exceptions(tab) == []
        # Signing out ends the session in Postgres; the same cookie replayed is refused.
        tab.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        tab.get_by_text("You are signed out.").wait_for(timeout=30_000)
        tab.get_by_role("link", name="Sign in again").click()
        tab.wait_for_url("**/signin?next=%2Fincidents%3Fstatus%3Dresolved")
        replay = httpx.get(
            f"{base}/incident?id={demo.incident_b}",
            cookies={COOKIE_NAME: cookie["value"]},
            headers={"accept": "text/html"},
        )
        assert replay.status_code == 303 and replay.headers["location"].startswith("/signin?next=")
        page.reload()
        page.wait_for_url("**/signin?next=*")
    with session_scope() as s:
        rows = s.scalars(select(ConsoleSession).where(ConsoleSession.user_id == demo.bob)).all()
        assert rows and all(r.revoked_at is not None for r in rows)
        assert all(COOKIE_NAME not in r.token_hash and len(r.token_hash) == 64 for r in rows)


def test_wrong_password_is_refused_on_the_form_and_deactivation_ends_open_sessions(
    console, output_dir: Path
) -> None:
    base, demo = console
    with browser.chromium_page() as page:
        page.goto(f"{base}/people")
        page.get_by_role("textbox", name="E-mail").fill("alice@example.test")
        page.get_by_role("textbox", name="Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for(timeout=10_000)
        assert "e-mail or password is wrong" in page.get_by_role("alert").inner_text()
        assert not [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
        _fill(page, "alice@example.test")
        page.wait_for_url("**/people")
        page.get_by_role("heading", name="People & teams").wait_for(timeout=30_000)
        # An admin deactivates Alice: her next page load is sent back to sign-in, her session is over.
        with session_scope() as s:
            user = s.get(User, demo.alice)
            assert user is not None
            user.active = False
        try:
            page.reload()
            page.wait_for_url("**/signin?next=%2Fpeople")
            page.screenshot(path=str(output_dir / "sign-in-deactivated.png"))
        finally:
            with session_scope() as s:
                user = s.get(User, demo.alice)
                assert user is not None
                user.active = True
    with session_scope() as s:
        rows = s.scalars(select(ConsoleSession).where(ConsoleSession.user_id == demo.alice)).all()
        assert rows and all(r.revoked_at is not None for r in rows)


def test_sign_in_refuses_to_redirect_off_site(console) -> None:
    base, _ = console
    answer = httpx.post(
        f"{base}/signin",
        data={"email": "bob@example.test", "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"
