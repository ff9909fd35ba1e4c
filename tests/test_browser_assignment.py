"""In Chromium, with the real workers: an incident assigned by hand keeps its assignee.

The escalation then pages someone else and a third person acknowledges; neither takes it over.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.directory import service as directory
from app.directory.models import Team
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.notifications.models import Delivery
from tests import browser, console_data
from tests.console_data import PASSWORD, Demo
from tests.loopback.workers import wait_for, worker_stack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
TITLE = "WAL archiving stalled on db-2"


@dataclass(frozen=True)
class World:
    demo: Demo
    carl: int  # a Storage responder whom the policy never pages
    incident: int


@pytest.fixture(scope="module")
def console(output_dir: Path, redis_env: dict[str, str]) -> Iterator[tuple[str, World]]:
    """The demo plus a WAL service paging Alice, then Ada; workers and console share one Redis namespace."""
    with console_data.database_for_console() as url:
        demo = console_data.build_demo()
        with session_scope() as s:
            storage = s.scalars(select(Team).where(Team.name == "Storage")).one()
            carl = directory.create_user(
                session=s, email="carl@example.test", name="Carl C", password=PASSWORD
            )
            directory.add_member(session=s, team_id=storage.id, user_id=carl.id, role="responder")
            # Ada has a channel too, so the second level leaves a delivery the test can wait for.
            directory.add_contact_method(session=s, user_id=demo.admin, kind="slack", address="U0ADA")
            levels = [
                LevelSpec(delay_minutes=30, targets=[TargetSpec("user", user_id=demo.alice)]),
                LevelSpec(delay_minutes=30, targets=[TargetSpec("user", user_id=demo.admin)]),
            ]
            policy = create_policy(session=s, name="WAL escalation", levels=levels, team_id=storage.id)
            svc = directory.create_service(session=s, name="wal", team_id=storage.id)
            svc.escalation_policy_id = policy.id
            s.flush()
            inc = incidents.trigger_or_group(
                session=s, service_id=svc.id, dedup_key="wal", alert=console_data.alert("wal", TITLE)
            ).incident
            world = World(demo, carl.id, inc.id)
            token = inc.escalation_token
        namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
        queues = {"REDIS_URL": redis_env["REDIS_URL"], "REDIS_NAMESPACE": namespace}
        with worker_stack(
            database_url=url,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=output_dir / "assignment-workers",
            scheduler=False,
        ) as stack:
            stack.kick(world.incident, token)
            wait_for(lambda: _paged(world.incident, demo.alice), 60, "the first level paging Alice")
            with browser.console_server(url, output_dir / "browser-assignment.log", queues) as base:
                yield base, world


def _paged(incident_id: int, user_id: int) -> bool:
    with session_scope() as s:
        found = s.scalars(
            select(Delivery.id).where(Delivery.incident_id == incident_id, Delivery.user_id == user_id)
        )
        return found.first() is not None


def _assignee(incident_id: int) -> int | None:
    with session_scope() as s:
        incident = s.get(Incident, incident_id)
        return incident.assignee_id if incident else None


def _metric(page: Any, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _click(page: Any, button: str, done: str) -> None:
    previous = browser.run_number(page)
    page.get_by_role("button", name=button).click()
    page.get_by_text(done).wait_for(timeout=30_000)
    browser.finished_after(page, previous)


def test_a_hand_assignment_stays_through_escalation_and_another_persons_acknowledgement(
    console, output_dir: Path
) -> None:
    base, world = console
    demo = world.demo
    assert _assignee(world.incident) == demo.alice  # paged first, so hers until a person decides otherwise
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "alice@example.test", PASSWORD, f"/incident?id={world.incident}")
        page.get_by_role("heading", name=TITLE).first.wait_for(timeout=30_000)
        assert _metric(page, "Assignee") == "Alice A"
        browser.choose(page, "Reassign to", "Carl C")
        _click(page, "Reassign", "Reassigned to Carl C.")
        assert _metric(page, "Assignee") == "Carl C"
        # The next level pages Ada: were it not for the hand assignment, she would own it now.
        _click(page, "Escalate now", "Escalated to")
    wait_for(lambda: _paged(world.incident, demo.admin), 60, "the second level paging Ada")
    assert _assignee(world.incident) == world.carl

    with browser.chromium_page() as page:
        # Ada, paged by the second level, acknowledges: the acknowledgement is hers, the incident Carl's.
        browser.sign_in_to(page, base, "admin@example.test", PASSWORD, f"/incident?id={world.incident}")
        page.get_by_role("heading", name=TITLE).first.wait_for(timeout=30_000)
        assert _metric(page, "Assignee") == "Carl C"
        _click(page, "Acknowledge", "Acknowledged.")
        assert _metric(page, "Assignee") == "Carl C"
        assert _metric(page, "Acknowledged by") == "Ada Admin"
        page.reload()  # what Postgres holds, not what the last run drew
        page.get_by_role("heading", name=TITLE).first.wait_for(timeout=30_000)
        browser.settled(page)
        assert _metric(page, "Assignee") == "Carl C"
        page.get_by_role("tab", name="Timeline").click()
        handed = page.get_by_text("Alice A assigned it to Carl C (was Alice A)")
        handed.first.wait_for(timeout=10_000)
        assert handed.count() == 1
        page.get_by_text("Ada Admin acknowledged at level 2").first.wait_for(timeout=10_000)
        page.screenshot(path=str(output_dir / "assignment-sticks.png"))
        assert browser.exceptions(page) == []
    with session_scope() as s:
        inc = s.get(Incident, world.incident)
        assert inc is not None and inc.assignee_id == world.carl and inc.acknowledged_by == demo.admin
