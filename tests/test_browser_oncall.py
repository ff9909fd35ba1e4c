"""On call in Chromium: who no configured channel reaches, what a channel without credentials does to a
page, who owns an incident, and schedule bars whose labels never overlap, on a laptop and a phone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.db import session_scope, utcnow
from app.directory import service as directory
from app.directory.models import Team, User
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentEvent
from app.notifications.models import Delivery
from app.schedules.service import on_call_now
from tests import browser, console_data
from tests.console_data import PASSWORD, Demo
from tests.loopback.workers import wait_for, worker_stack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
PHONE = {"width": 390, "height": 1600}
TITLE = "Nightly backup of db-3 failed"


@pytest.fixture(scope="module")
def console(output_dir: Path, redis_env: dict[str, str]) -> Iterator[tuple[str, Demo, int]]:
    """The demo, plus a backups service whose policy pages Alice first; the real workers page her once.

    Slack has no credentials here, so her only channel is recorded as not configured.
    """
    with console_data.database_for_console() as url:
        demo = console_data.build_demo()
        with session_scope() as s:
            storage = s.scalars(select(Team).where(Team.name == "Storage")).one()
            levels = [
                LevelSpec(delay_minutes=30, targets=[TargetSpec("user", user_id=demo.alice)]),
                LevelSpec(delay_minutes=30, targets=[TargetSpec("user", user_id=demo.admin)]),
            ]
            policy = create_policy(session=s, name="Backups escalation", levels=levels, team_id=storage.id)
            svc = directory.create_service(session=s, name="backups", team_id=storage.id)
            svc.escalation_policy_id = policy.id
            s.flush()
            inc = incidents.trigger_or_group(
                session=s, service_id=svc.id, dedup_key="backup", alert=console_data.alert("backup", TITLE)
            ).incident
            incident_id, token = inc.id, inc.escalation_token
        namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
        log_dir = output_dir / "oncall-workers"
        log_dir.mkdir(parents=True, exist_ok=True)
        with worker_stack(
            database_url=url,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=log_dir,
            scheduler=False,
        ) as stack:
            stack.kick(incident_id, token)
            wait_for(lambda: _delivery_statuses(incident_id) == ["not_configured"], 60, "Alice's Slack page")
        with browser.console_server(url, output_dir / "browser-oncall.log") as base:
            yield base, demo, incident_id


def _delivery_statuses(incident_id: int) -> list[str]:
    with session_scope() as s:
        return list(s.scalars(select(Delivery.status).where(Delivery.incident_id == incident_id)))


def _metric(page: Any, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _on_call_names() -> set[str]:
    with session_scope() as s:
        ids = {u for users in on_call_now(session=s, at=utcnow()).values() for u in users}
        return set(s.scalars(select(User.name).where(User.id.in_(ids))))


def test_people_and_overview_warn_of_the_unreachable_and_the_page_is_owned_by_who_it_pages(
    console, output_dir: Path
) -> None:
    base, demo, incident_id = console
    on_call = _on_call_names()
    assert on_call  # the demo's Storage rotation always has someone
    warning = "is on call but no configured channel reaches them"
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "admin@example.test", PASSWORD, "/people")
        page.get_by_role("heading", name="People & teams").wait_for()
        # Slack has no token here and Ada has no contact method: whoever is on call is reached by nothing.
        for name in on_call:
            page.get_by_text(f"{name} {warning}").wait_for(timeout=30_000)
        page.screenshot(path=str(output_dir / "oncall-people-unreachable.png"))
        browser.open_page(page, "Overview", "")
        for name in on_call:
            page.get_by_text(f"{name} {warning}").wait_for(timeout=30_000)
        assert browser.exceptions(page) == []

        # The page went to Alice: she owns it; Slack was not attempted and is said so once.
        page.goto(f"{base}/incident?id={incident_id}")  # a new browser session: its runs count from 0
        page.get_by_role("heading", name=TITLE).first.wait_for(timeout=30_000)
        browser.finished_after(page, 0)
        assert _metric(page, "Assignee") == "Alice A"
        assert _metric(page, "Escalation") == "level 1"  # the editor's and the dry run's level 1
        page.get_by_role("tab", name="Timeline").click()
        entry = page.locator('[data-testid="stMarkdownContainer"]').filter(
            has_text="Paged Alice A by Slack (level 1)"
        )
        entry.first.wait_for(timeout=10_000)
        assert entry.count() == 1
        text = entry.inner_text()
        assert text.count("not sent:") == 1 and "not configured" in text
        page.get_by_role("tab", name="Deliveries (1)").click()
        grid = page.locator('[data-testid="stDataFrame"]').filter(has_text="not_configured").first
        grid.wait_for(timeout=10_000)
        assert "level 1" in (grid.text_content() or "")
        page.screenshot(path=str(output_dir / "oncall-incident-not-configured.png"))

        # Ada acknowledges: she owns it now, and her Overview lists it as assigned to her.
        previous = browser.run_number(page)
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("Acknowledged.").wait_for(timeout=30_000)
        browser.finished_after(page, previous)
        assert _metric(page, "Assignee") == "Ada Admin"
        browser.open_page(page, "Overview", "")
        mine = page.locator('[class*="st-key-incident_"]').filter(has_text=TITLE)
        mine.first.wait_for(timeout=30_000)
        assert "assigned to you" in mine.first.inner_text()
        page.screenshot(path=str(output_dir / "oncall-overview-assigned.png"))
        assert browser.exceptions(page) == []
    with session_scope() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None and inc.assignee_id == demo.admin and inc.acknowledged_by == demo.admin
        kinds = list(s.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id)))
        assert kinds.count("delivery_not_configured") == 1


LABELS_JS = """chart => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    labels: [...chart.querySelectorAll('g.mark-text.role-mark text')]
      .filter(t => t.textContent.trim()).map(t => [t.textContent, ...box(t)]),
    bars: [...chart.querySelectorAll('g.mark-rect.role-mark path')].map(box),
  };
}"""


def _gantt_labels(page: Any) -> list[str]:
    """The schedule bars' labels; each must lie inside a bar, so no two of them overlap."""
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.locator("g.mark-text.role-mark text").first.wait_for(state="attached", timeout=30_000)
    drawn = chart.evaluate(LABELS_JS)
    assert drawn["labels"] and drawn["bars"]
    for text, left, top, right, bottom in drawn["labels"]:
        inside = [
            b
            for b in drawn["bars"]
            if b[0] - 1 <= left and right <= b[2] + 1 and b[1] - 1 <= top and bottom <= b[3] + 1
        ]
        assert inside, f"{text!r} runs past its bar ({left:.0f}–{right:.0f} px)"
    return [label[0] for label in drawn["labels"]]


def test_schedule_bar_labels_stay_inside_their_bars_on_a_laptop_and_a_phone(
    console, output_dir: Path
) -> None:
    base = console[0]
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "alice@example.test", PASSWORD, "/schedules")
        labels = _gantt_labels(page)
        assert "Alice A" in labels and "Ada Admin" in labels  # a day-long bar has room for the name
        page.screenshot(path=str(output_dir / "oncall-schedule-laptop.png"))
        assert browser.exceptions(page) == []
    with browser.chromium_page(PHONE) as phone:
        browser.sign_in_to(phone, base, "alice@example.test", PASSWORD, "/schedules")
        labels = _gantt_labels(phone)
        assert any(label.endswith("…") for label in labels)  # a phone's day is too narrow: cut, not spilled
        phone.screenshot(path=str(output_dir / "oncall-schedule-phone.png"))
        assert browser.exceptions(phone) == []
