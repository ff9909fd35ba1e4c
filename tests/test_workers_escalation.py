"""Escalation end to end with real `dramatiq` worker processes, the scheduler, Postgres and Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.directory import service as directory
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.escalation.step_models import EscalationStep
from app.incidents import service as incidents
from app.notifications.models import ContactMethod, Delivery
from app.schedules import service as schedules
from tests import factories as f
from tests.loopback.fcm import FcmServer, write_credentials
from tests.loopback.slack import SlackServer
from tests.loopback.smtp import SmtpServer
from tests.loopback.workers import Stack, sessions, wait_for, worker_stack

pytestmark = pytest.mark.slow
MINUTE_S = 0.5  # one policy "minute" lasts half a second here
# A representative pair also runs on RabbitMQ: delayed messages (the walk) and re-enqueued retries.
BOTH_BROKERS = pytest.mark.parametrize("broker_kind", ["redis", "rabbitmq"])


@pytest.fixture()
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture()
def stack(
    fresh_database: str,
    redis_env: dict[str, str],
    slack: SlackServer,
    output_dir: Path,
    broker_url: str | None,
) -> Iterator[Stack]:
    extra = {
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLAR_ESCALATION_MINUTE_S": str(MINUTE_S),
    }
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    with worker_stack(
        database_url=fresh_database,
        redis_url=redis_env["REDIS_URL"],
        namespace=namespace,
        log_dir=output_dir / "workers" / namespace,
        extra_env=extra,
        broker_url=broker_url,
    ) as s:
        yield s


def _slack_user(session, name: str):
    user = f.user(session, name=name)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address=f"U{user.id}")
    return user


def _trigger(session, policy_id: int):
    svc = f.service(session, policy_id=policy_id)
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert()
    ).incident
    return inc.id, inc.escalation_token


def _posted_to(slack: SlackServer) -> list[str]:
    return [str(c.body["channel"]) for c in slack.posts()]


@BOTH_BROKERS
def test_policy_walk_pages_each_level_in_order_with_its_delay(
    fresh_database: str, stack: Stack, slack: SlackServer
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        users = [_slack_user(s, n) for n in ("Ann", "Bob", "Cid")]
        policy = f.policy_for(s, users, delay_minutes=2, repeat_count=1)
        incident_id, token = _trigger(s, policy)
        expected = [f"U{u.id}" for u in users] * 2
    stack.kick(incident_id, token)
    wait_for(lambda: len(slack.posts()) >= 6, 60, "six pages (three levels, two passes)")
    with Session() as s:
        steps = s.scalars(
            select(EscalationStep)
            .where(EscalationStep.incident_id == incident_id)
            .order_by(EscalationStep.ran_at)
        ).all()
        # Exhausted: nothing more is due, so a seventh page can never come.
        assert s.get(incidents.Incident, incident_id).next_escalation_at is None
    assert _posted_to(slack) == expected
    assert [(st.level, st.repeat_index) for st in steps] == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    gaps = [(b.ran_at - a.ran_at).total_seconds() for a, b in zip(steps, steps[1:], strict=False)]
    assert min(gaps) >= 2 * MINUTE_S * 0.99  # a level never fires before its delay has passed

    def kinds() -> list[str]:
        with Session() as s:
            return [e.kind for e in incidents.timeline(session=s, incident_id=incident_id)]

    # A page reaches Slack before its worker commits the "notified" entry: wait for the sixth.
    wait_for(lambda: kinds().count("notified") >= 6, 60, "six notified entries on the timeline")
    assert kinds().count("notified") == 6 and kinds().count("escalated") == 5


def test_ack_stops_escalation_and_redraws_the_slack_message(
    fresh_database: str, stack: Stack, slack: SlackServer
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        users = [_slack_user(s, n) for n in ("Dee", "Eve")]
        # The ack must land before the second level is due: 20 policy minutes (10 s) leave room for it
        # on a loaded machine.
        policy = f.policy_for(s, users, delay_minutes=20)
        incident_id, token = _trigger(s, policy)
    stack.kick(incident_id, token)
    wait_for(lambda: slack.posts(), 60, "the first page")
    with Session.begin() as s:
        incidents.acknowledge(session=s, incident_id=incident_id, by=None)
    # The sweeper notices the incident changed after its message was drawn and redraws it.
    update = wait_for(lambda: slack.updates(), 60, "chat.update after the ack")[0]
    assert not [b for b in update.body["blocks"] if b["type"] == "actions"]
    assert "Acknowledged" in str(update.body["blocks"])
    time.sleep(20 * MINUTE_S + 1.5)  # past the moment the second level would have been paged
    assert _posted_to(slack) == [f"U{users[0].id}"]


def test_schedule_target_pages_whoever_is_on_call_at_that_instant(
    fresh_database: str, stack: Stack, slack: SlackServer
) -> None:
    Session = sessions(fresh_database)
    now = utcnow()
    with Session.begin() as s:
        regular, cover = _slack_user(s, "Reg"), _slack_user(s, "Cov")
        schedule = schedules.create_schedule(session=s, name=f"primary {f.n()}", time_zone="Europe/Paris")
        schedules.add_layer(
            session=s,
            schedule_id=schedule.id,
            member_ids=[regular.id],
            rotation_kind="weekly",
            handoff_anchor=(now - timedelta(days=3)).replace(tzinfo=None),
        )
        schedules.add_override(
            session=s,
            schedule_id=schedule.id,
            user_id=cover.id,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=1),
        )
        policy = create_policy(
            session=s,
            name=f"sched {f.n()}",
            levels=[
                LevelSpec(delay_minutes=5, targets=[TargetSpec(kind="schedule", schedule_id=schedule.id)])
            ],
        )
        incident_id, token = _trigger(s, policy.id)
    stack.kick(incident_id, token)
    wait_for(lambda: slack.posts(), 60, "the page to the on-call user")
    assert _posted_to(slack) == [f"U{cover.id}"]


def test_rules_reach_push_and_email_and_a_dead_token_is_disabled(
    fresh_database: str, redis_env: dict[str, str], slack: SlackServer, output_dir: Path, tmp_path: Path
) -> None:
    Session = sessions(fresh_database)
    with FcmServer() as fcm, SmtpServer() as smtp:
        fcm.unregistered.add("old-phone")
        creds = write_credentials(tmp_path / "sa.json", token_uri=f"{fcm.url}/token")
        with Session.begin() as s:
            user = f.user(s, name="Fay")
            phone = directory.add_contact_method(session=s, user_id=user.id, kind="push", address="new-phone")
            dead = directory.add_contact_method(session=s, user_id=user.id, kind="push", address="old-phone")
            mail = directory.add_contact_method(
                session=s, user_id=user.id, kind="email", address="fay@example.test"
            )
            for method, delay in ((phone, 0), (dead, 0), (mail, 2)):
                directory.add_notification_rule(
                    session=s, user_id=user.id, contact_method_id=method.id, delay_minutes=delay
                )
            incident_id, token = _trigger(s, f.policy_for(s, [user]))
            dead_id = dead.id
        extra = {
            "SLAR_ESCALATION_MINUTE_S": str(MINUTE_S),
            "FIREBASE_CREDENTIALS": str(creds),
            "FCM_ENDPOINT": fcm.url,
            "SMTP_URL": smtp.url,
            "SMTP_FROM": "pager@slar.test",
        }
        namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
        with worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=output_dir / "workers" / namespace,
            extra_env=extra,
        ) as stack:
            stack.kick(incident_id, token)
            wait_for(lambda: smtp.messages, 60, "the e-mail two minutes later")
            with Session() as s:
                rows = {d.channel + ":" + str(d.contact_method_id): d for d in s.scalars(select(Delivery))}
                assert s.get(ContactMethod, dead_id).disabled
        assert sorted(c.body["message"]["token"] for c in fcm.sends()) == ["new-phone", "old-phone"]
        assert smtp.messages[0]["To"] == "fay@example.test"
        assert (
            rows[f"push:{dead_id}"].status == "failed"
            and "UNREGISTERED" in rows[f"push:{dead_id}"].last_error
        )
        assert sorted(d.status for d in rows.values()) == ["failed", "sent", "sent"]


@BOTH_BROKERS
def test_transient_slack_errors_are_retried_with_every_attempt_on_the_timeline(
    fresh_database: str, stack: Stack, slack: SlackServer
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        user = _slack_user(s, "Gus")
        incident_id, token = _trigger(s, f.policy_for(s, [user]))
    slack.fail_next[f"U{user.id}"] = ["ratelimited", "internal_error"]
    stack.kick(incident_id, token)
    with Session() as s:
        wait_for(
            lambda: (
                s.scalar(
                    select(Delivery.status)
                    .where(Delivery.incident_id == incident_id)
                    .execution_options(populate_existing=True)
                )
                == "sent"
            ),
            60,
            "the third attempt to get through",
        )
        events = [
            e for e in incidents.timeline(session=s, incident_id=incident_id) if e.data.get("delivery_id")
        ]
    assert [(e.kind, e.data["attempt"]) for e in events] == [
        ("delivery_failed", 1),
        ("delivery_failed", 2),
        ("notified", 3),
    ]
    assert "ratelimited" in events[0].data["error"] and len(slack.posts()) == 3
