"""A personal rule list with real worker processes: in order, waits kept, stopped by the ack."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.directory import service as directory
from app.incidents import service as incidents
from app.incidents.models import IncidentEvent
from app.notifications.models import Delivery
from app.notifications.rules_service import StepSpec, set_rules
from tests import factories as f
from tests.loopback._http import Call, LoopbackServer
from tests.loopback.workers import Stack, sessions, wait_for, worker_stack

pytestmark = pytest.mark.slow
MINUTE_S = 1.0


class Receiver(LoopbackServer):
    """An outbound-webhook receiver: takes every page with a 200."""

    def handle(self, call: Call) -> tuple[int, dict]:
        return 200, {}


@pytest.fixture()
def stack(fresh_database: str, redis_env: dict[str, str], output_dir: Path) -> Iterator[Stack]:
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    with worker_stack(
        database_url=fresh_database,
        redis_url=redis_env["REDIS_URL"],
        namespace=namespace,
        log_dir=output_dir / "workers" / namespace,
        # No SLACK_BOT_TOKEN: Slack is not configured in this install.
        extra_env={"SLAR_ESCALATION_MINUTE_S": str(MINUTE_S)},
    ) as s:
        yield s


def test_list_skips_an_unconfigured_channel_pages_in_order_and_stops_at_the_ack(
    fresh_database: str, stack: Stack
) -> None:
    Session = sessions(fresh_database)
    with Receiver() as hook:
        base = f"http://127.0.0.1:{hook.port}"
        with Session.begin() as s:
            user = f.user(s, name="Ann")
            slack = directory.add_contact_method(session=s, user_id=user.id, kind="slack", address="U1")
            first = directory.add_contact_method(
                session=s, user_id=user.id, kind="webhook", address=f"{base}/first"
            )
            second = directory.add_contact_method(
                session=s, user_id=user.id, kind="webhook", address=f"{base}/second"
            )
            third = directory.add_contact_method(
                session=s, user_id=user.id, kind="webhook", address=f"{base}/third"
            )
            set_rules(
                session=s,
                user_id=user.id,
                urgency="default",
                steps=[
                    StepSpec("notify", slack.id),
                    StepSpec("wait", minutes=60),
                    StepSpec("notify", first.id),
                    StepSpec("wait", minutes=3),
                    StepSpec("notify", second.id),
                    StepSpec("wait", minutes=30),
                    StepSpec("notify", third.id),
                ],
            )
            team = f.team(s, members=[(user, "responder")])
            svc = f.service(s, team_id=team.id, policy_id=f.policy_for(s, [user], delay_minutes=60))
            inc = incidents.trigger_or_group(
                session=s, service_id=svc.id, dedup_key="k", alert=f.alert(severity="warning")
            ).incident
            incident_id, token = inc.id, inc.escalation_token
        stack.kick(incident_id, token)
        # Slack has no token: the first webhook comes at once instead of after the 60-minute wait.
        wait_for(lambda: hook.calls_to("/first"), 60, "the first webhook page")
        wait_for(lambda: hook.calls_to("/second"), 60, "the second webhook page after its wait")
        first_at, second_at = hook.calls_to("/first")[0].at, hook.calls_to("/second")[0].at
        assert second_at - first_at >= 3 * MINUTE_S * 0.9  # the wait between them is kept
        with Session.begin() as s:
            incidents.acknowledge(session=s, incident_id=incident_id, by=user.id)
        # The third step was 30 "minutes" out; the sweeper runs every second: give it time to misfire.
        time.sleep(3)
        with Session() as s:
            rows = s.scalars(select(Delivery).where(Delivery.incident_id == incident_id)).all()
            statuses = sorted(d.status for d in rows)
            events = [
                e.kind
                for e in s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id))
            ]
    assert hook.calls_to("/third") == []
    assert statuses == ["not_configured", "pending", "sent", "sent"]
    assert events.count("delivery_not_configured") == 1
    assert events.count("notified") == 2
    assert "delivery_failed" not in events
