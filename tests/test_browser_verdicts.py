"""In Chromium: controls a person may not use are disabled, with the reason beside them in their words."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.db import session_scope
from app.directory import service as directory
from app.incidents import service as incidents
from tests import browser, console_data
from tests.console_data import PASSWORD, Demo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
LOCK = '[data-testid="stCaptionContainer"]'


@dataclass(frozen=True)
class World:
    demo: Demo
    mobile_incident: int


@pytest.fixture(scope="module")
def console(output_dir: Path) -> Iterator[tuple[str, World]]:
    """The demo's Storage and Payments teams, plus a Mobile team with an incident of its own."""
    with console_data.database_for_console() as url:
        demo = console_data.build_demo()
        with session_scope() as s:
            mia = directory.create_user(session=s, email="mia@example.test", name="Mia Mobile")
            mobile = directory.create_team(session=s, name="Mobile")
            directory.add_member(session=s, team_id=mobile.id, user_id=mia.id, role="lead")
            app = directory.create_service(session=s, name="ios-app", team_id=mobile.id)
            crash = console_data.alert("crash", "iOS app crashes on launch")
            made = incidents.trigger_or_group(session=s, service_id=app.id, dedup_key="crash", alert=crash)
            world = World(demo, made.incident.id)
        with browser.console_server(url, output_dir / "browser-verdicts.log") as base:
            yield base, world


def test_another_teams_incident_offers_its_actions_disabled_with_the_reason(
    console, output_dir: Path
) -> None:
    base, world = console
    with browser.chromium_page() as page:
        # Bob responds for Payments, not for Mobile.
        browser.sign_in_to(page, base, "bob@example.test", PASSWORD, f"/incident?id={world.mobile_incident}")
        page.get_by_role("heading", name="iOS app crashes on launch").first.wait_for()
        reason = "You can't act on incidents of ios-app: you are not in the Mobile team."
        note = page.locator(LOCK).filter(has_text=reason)
        note.wait_for()
        assert note.count() == 1
        for label in ("Acknowledge", "Resolve", "Escalate now", "Snooze", "Reassign", "Add note"):
            assert page.get_by_role("button", name=label).is_disabled(), label
        # The reason sits beside the buttons: right above the row they are in.
        note_box = note.bounding_box()
        ack_box = page.get_by_role("button", name="Acknowledge").bounding_box()
        assert note_box is not None and ack_box is not None
        assert 0 <= ack_box["y"] - (note_box["y"] + note_box["height"]) < 80
        page.screenshot(path=str(output_dir / "verdicts-other-team-incident.png"))
        assert browser.exceptions(page) == []

        # His own team's incident: the same buttons work, and nothing says they would not.
        page.goto(f"{base}/incident?id={world.demo.incident_b}")
        page.get_by_role("heading", name="Checkout p99 latency high").first.wait_for()
        browser.settled(page)
        assert page.get_by_role("button", name="Acknowledge").is_enabled()
        assert page.get_by_role("button", name="Resolve").is_enabled()
        assert page.get_by_text("You can't", exact=False).count() == 0
        page.screenshot(path=str(output_dir / "verdicts-own-team-incident.png"))


def test_admin_only_and_lead_only_controls_are_disabled_for_others(console, output_dir: Path) -> None:
    base, _ = console
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "bob@example.test", PASSWORD, "/people")
        page.get_by_role("tab", name="Add people & teams").click()
        browser.settled(page)
        create_user = page.get_by_role("button", name="Create user")
        create_user.wait_for()
        assert create_user.is_disabled() and page.get_by_role("button", name="Create team").is_disabled()
        page.locator(LOCK).filter(has_text="You can't add people: only an admin may.").wait_for()
        page.locator(LOCK).filter(has_text="You can't add teams: only an admin may.").wait_for()
        page.screenshot(path=str(output_dir / "verdicts-people-non-admin.png"))

        # Bob leads no team: the new-service form is shut, and says why.
        browser.open_page(page, "Services & integrations", "services")
        assert page.get_by_role("button", name="Create service").is_disabled()
        why = "You can't create services: only a team's lead or an admin may."
        page.locator(LOCK).filter(has_text=why).wait_for()
        page.screenshot(path=str(output_dir / "verdicts-services-non-lead.png"))
        assert browser.exceptions(page) == []

    with browser.chromium_page() as page:
        # The admin meets the very same forms open.
        browser.sign_in_to(page, base, "admin@example.test", PASSWORD, "/people")
        page.get_by_role("tab", name="Add people & teams").click()
        browser.settled(page)
        assert page.get_by_role("button", name="Create user").is_enabled()
        assert page.locator(LOCK).filter(has_text="You can't").count() == 0


def _open_agent_rules(page: Any) -> None:
    page.get_by_role("heading", name="Agent").first.wait_for(timeout=30_000)
    browser.settled(page)
    page.get_by_text("Agent policies and audit log").click()
    page.get_by_role("button", name="Add rule").wait_for(timeout=30_000)
    browser.settled(page)


def test_the_agent_rules_are_shown_to_a_responder_with_their_controls_disabled_and_why(
    console, output_dir: Path
) -> None:
    base, _ = console
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "bob@example.test", PASSWORD, "/agent")
        _open_agent_rules(page)
        assert page.get_by_role("button", name="Add rule").is_disabled()
        assert page.get_by_role("button", name="Export audit log (CSV)").is_disabled()
        assert page.get_by_role("textbox", name="Tool pattern").is_disabled()
        rules = page.locator(LOCK).filter(has_text="You can't change the agent's rules: only an admin may.")
        rules.wait_for()
        # The reason sits right above the form it shuts.
        note_box, field_box = rules.bounding_box(), page.get_by_text("Subject", exact=True).bounding_box()
        assert note_box is not None and field_box is not None
        assert 0 <= field_box["y"] - (note_box["y"] + note_box["height"]) < 80
        page.locator(LOCK).filter(
            has_text="You can't read the agent's audit log: only an admin may."
        ).wait_for()
        page.screenshot(path=str(output_dir / "verdicts-agent-non-admin.png"))
        assert browser.exceptions(page) == []

    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "admin@example.test", PASSWORD, "/agent")
        _open_agent_rules(page)
        assert page.get_by_role("button", name="Add rule").is_enabled()
        assert page.get_by_role("button", name="Export audit log (CSV)").is_enabled()
        assert page.locator(LOCK).filter(has_text="You can't").count() == 0
