"""The incident list, detail and Overview in Chromium, as a paged responder meets them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.db import session_scope, utcnow
from app.directory.models import Service
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.notifications.models import Delivery
from app.notifications.service import claim, mark_failed, mark_sent
from tests import browser, console_data
from tests.console_data import PASSWORD, Demo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def console(output_dir: Path) -> Iterator[tuple[str, Demo]]:
    with console_data.database_for_console() as url:
        demo = console_data.build_demo()
        with browser.console_server(url, output_dir / "browser-triage.log") as base:
            yield base, demo


def _titles(page) -> list[str]:
    cards = page.locator('[class*="st-key-incident_"]')
    # The link's text starts with its icon's ligature name; the title is the last line.
    return [
        cards.nth(i).get_by_role("link").inner_text().strip().split("\n")[-1] for i in range(cards.count())
    ]


def _flaky_then_delivered(demo: Demo) -> None:
    """A Slack page to Alice that fails once and then goes through: two events, one delivery."""
    with session_scope() as s:
        delivery = Delivery(
            incident_id=demo.incident_a,
            user_id=demo.alice,
            channel="slack",
            status="pending",
            idempotency_key=f"{demo.incident_a}:0:1:{demo.alice}:triage",
            level=0,
            repeat_index=1,
            due_at=utcnow() - timedelta(seconds=1),
        )
        s.add(delivery)
        s.flush()
        delivery.contact_method_id = (
            s.query(Delivery).filter_by(incident_id=demo.incident_a).first().contact_method_id
        )
        s.flush()
        claim(session=s, delivery_id=delivery.id)
        mark_failed(
            session=s, delivery_id=delivery.id, error="slack said ratelimited", final=False, retry_in_s=0
        )
        claim(session=s, delivery_id=delivery.id)
        mark_sent(session=s, delivery_id=delivery.id, provider_message_id="ts.1")


def test_the_list_is_for_triage_and_a_row_opens_the_incident(console, output_dir: Path) -> None:
    base, demo = console
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "alice@example.test", PASSWORD, "/incidents")
        page.get_by_role("heading", name="Incidents").wait_for()
        # Open only, the critical page first, then newest first; every one new on a first look.
        assert _titles(page) == ["Disk almost full on db-1", "Checkout p99 latency high", "Replica lag"]
        assert page.get_by_text("new", exact=True).count() == 3
        first = page.locator('[class*="st-key-incident_"]').first
        assert first.get_by_text("CRITICAL").count() == 1 and first.get_by_text("triggered").count() == 1
        page.screenshot(path=str(output_dir / "triage-list.png"))
        # Streamlit's own chrome is hidden: no Deploy button, no developer menu (Rerun, Clear cache).
        assert page.get_by_role("button", name="Deploy").count() == 0
        assert page.locator('[data-testid="stAppDeployButton"], [data-testid="stMainMenu"]').count() == 0
        # Leave and come back: nothing is new any more, until an incident arrives.
        browser.open_page(page, "Overview", "")
        with session_scope() as s:
            svc = s.query(Service).filter_by(name="postgres").one()
            incidents.trigger_or_group(
                session=s,
                service_id=svc.id,
                dedup_key="wal",
                alert=console_data.alert(
                    "wal", "WAL archive is failing on db-2 and the disk will fill", "error"
                ),
            )
        browser.open_page(page, "Incidents", "incidents")
        page.get_by_role("link", name="WAL archive is failing on db-2 and the disk will fill").wait_for()
        new = page.get_by_text("new", exact=True)
        assert new.count() == 1
        assert "WAL archive" in page.locator('[class*="st-key-incident_"]').filter(has=new).inner_text()
        # Clicking a title opens exactly that incident.
        previous = browser.run_number(page)
        page.get_by_role("link", name="Disk almost full on db-1").click()
        page.wait_for_url(f"**/incident?id={demo.incident_a}")
        browser.finished_after(page, previous)
        assert page.get_by_role("button", name="Acknowledge").is_enabled()
        assert browser.exceptions(page) == []


def test_detail_actions_follow_the_state_and_refusals_name_the_reason(console, output_dir: Path) -> None:
    base, demo = console
    with session_scope() as s:
        resolved_id = s.query(Incident).filter_by(title="Checkout 5xx burst").one().id
    _flaky_then_delivered(demo)
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "alice@example.test", PASSWORD, f"/incident?id={demo.incident_b}")
        reason = "You can't act on incidents of checkout: you are not in the Payments team."
        page.get_by_text(reason).wait_for()
        assert page.get_by_role("button", name="Acknowledge").is_disabled()
        assert page.get_by_role("button", name="Resolve").is_disabled()
        page.screenshot(path=str(output_dir / "triage-refused.png"))
        # Bob may act on his team's resolved incident: it offers Reopen, not Acknowledge.
        page.goto(f"{base}/incident?id={resolved_id}")
        page.get_by_role("heading", name="Checkout 5xx burst").first.wait_for()
        browser.settled(page)
        assert page.get_by_role("button", name="Acknowledge").count() == 0
        assert page.get_by_role("button", name="Reopen").count() == 1
        # Alice's own incident: the timeline speaks in sentences; two attempts, one delivery entry.
        page.goto(f"{base}/incident?id={demo.incident_a}")
        page.get_by_role("tab", name="Timeline").click()
        paged = page.get_by_text("Paged Alice A by Slack (level 1)")
        paged.first.wait_for()
        assert paged.count() == 1
        entry = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Paged Alice A by Slack")
        text = entry.first.inner_text()
        assert (
            "attempt 1 failed, retrying: slack said ratelimited" in text and "delivered on attempt 2" in text
        )
        assert page.get_by_text("Triggered").count() >= 1
        page.screenshot(path=str(output_dir / "triage-timeline.png"))
        assert browser.exceptions(page) == []


def test_overview_shows_what_pages_me_and_the_phone_list_comes_first(console, output_dir: Path) -> None:
    base, demo = console
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "alice@example.test", PASSWORD, "/")
        mine = page.get_by_role("heading", name="My open incidents")
        mine.wait_for()
        paging = page.locator('[class*="st-key-incident_"]').filter(has_text="paging you")
        assert paging.get_by_role("link").inner_text().strip().endswith("Disk almost full on db-1")
        page.screenshot(path=str(output_dir / "triage-overview-mine.png"))
    with browser.chromium_page(PHONE) as phone:
        browser.sign_in_to(phone, base, "alice@example.test", PASSWORD, "/incidents?severity=critical")
        phone.get_by_role("link", name="Disk almost full on db-1").wait_for()
        # The filters live in the sidebar, folded away on a phone: the list is what one sees first.
        status = phone.get_by_text("Filters", exact=True)
        where = status.bounding_box() if status.count() else None
        assert where is None or where["x"] + where["width"] <= 0 or not status.is_visible()
        box = phone.locator('[class*="st-key-incident_"]').first.bounding_box()
        assert box is not None and box["y"] < PHONE["height"] / 2 and box["width"] <= PHONE["width"]
        phone.screenshot(path=str(output_dir / "triage-phone.png"))
        assert browser.exceptions(phone) == []
