"""Data for console tests: a committed, fresh database with two teams, their people and incidents."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from app.alerts.events import AlertEvent
from app.config import reset_settings
from app.db import reset_engines, session_scope, utcnow
from app.directory import service as directory
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents import service as incidents
from app.notifications.models import Delivery
from app.schedules import service as schedules
from tests import infra

PASSWORD = "correct horse battery"


@contextmanager
def database_for_console() -> Iterator[str]:
    """A fresh migrated database (and export folder) the console reads through DATABASE_URL and DATA_DIR."""
    previous = os.environ.get("DATABASE_URL"), os.environ.get("DATA_DIR")
    url = infra.create_database()
    data_dir = tempfile.mkdtemp(prefix="slar-console-")
    os.environ["DATABASE_URL"], os.environ["DATA_DIR"] = url, data_dir
    reset_settings()
    reset_engines()
    try:
        yield url
    finally:
        reset_engines()
        for name, value in zip(("DATABASE_URL", "DATA_DIR"), previous, strict=True):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()
        infra.drop_database(url)
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class Demo:
    admin: int
    alice: int  # responder of team A
    bob: int  # responder of team B
    viewer: int
    incident_a: int  # triggered, on team A's service
    incident_b: int  # triggered, on team B's service


def alert(fingerprint: str, summary: str, severity: str = "critical") -> AlertEvent:
    return AlertEvent(
        fingerprint=fingerprint,
        dedup_key=fingerprint,
        action="trigger",
        summary=summary,
        severity=severity,  # type: ignore[arg-type]
        source="alertmanager",
        labels={"alertname": summary, "instance": "db-1:9100", "team": "a"},
        annotations={"runbook_url": "https://runbooks.example.test/disk", "description": "95% used"},
        links=[{"text": "Prometheus", "href": "http://prometheus.example.test/graph"}],
    )


def build_demo() -> Demo:
    """Commit two teams with a service each, four people and a few incidents in every state."""
    now = utcnow()
    with session_scope() as s:
        mk = directory.create_user
        admin = mk(session=s, email="admin@example.test", name="Ada Admin", role="admin", password=PASSWORD)
        alice = mk(session=s, email="alice@example.test", name="Alice A", password=PASSWORD)
        bob = mk(
            session=s, email="bob@example.test", name="Bob B", password=PASSWORD, time_zone="Europe/Paris"
        )
        viewer = mk(session=s, email="vic@example.test", name="Vic Viewer", role="viewer", password=PASSWORD)
        team_a = directory.create_team(session=s, name="Storage")
        team_b = directory.create_team(session=s, name="Payments")
        directory.add_member(session=s, team_id=team_a.id, user_id=alice.id, role="lead")
        directory.add_member(session=s, team_id=team_a.id, user_id=viewer.id, role="viewer")
        directory.add_member(session=s, team_id=team_b.id, user_id=bob.id, role="responder")
        svc_a = directory.create_service(session=s, name="postgres", team_id=team_a.id)
        svc_b = directory.create_service(session=s, name="checkout", team_id=team_b.id)
        method = directory.add_contact_method(session=s, user_id=alice.id, kind="slack", address="U0ALICE")
        directory.add_notification_rule(session=s, user_id=alice.id, contact_method_id=method.id)

        def trigger(service_id: int, fp: str, summary: str, severity: str, ago: timedelta) -> int:
            return incidents.trigger_or_group(
                session=s,
                service_id=service_id,
                dedup_key=fp,
                alert=alert(fp, summary, severity),
                now=now - ago,
            ).incident.id

        inc_a = trigger(svc_a.id, "disk", "Disk almost full on db-1", "critical", timedelta(minutes=7))
        inc_b = trigger(svc_b.id, "latency", "Checkout p99 latency high", "error", timedelta(minutes=3))
        acked = trigger(svc_a.id, "replica", "Replica lag", "warning", timedelta(hours=5))
        incidents.acknowledge(session=s, incident_id=acked, by=alice.id, now=now - timedelta(hours=4))
        old = trigger(svc_b.id, "5xx", "Checkout 5xx burst", "critical", timedelta(days=2))
        incidents.acknowledge(
            session=s, incident_id=old, by=bob.id, now=now - timedelta(days=2) + timedelta(minutes=4)
        )
        incidents.resolve(session=s, incident_id=old, by=bob.id, now=now - timedelta(days=1))
        s.add(
            Delivery(
                incident_id=inc_a,
                user_id=alice.id,
                contact_method_id=method.id,
                channel="slack",
                status="sent",
                attempts=1,
                idempotency_key=f"{inc_a}:0:0:{alice.id}:{method.id}",
                sent_at=now,
            )
        )
        schedule_id = _schedule(s, team_a.id, [alice.id, admin.id], bob.id)
        levels = [
            LevelSpec(delay_minutes=5, targets=[TargetSpec("schedule", schedule_id=schedule_id)]),
            LevelSpec(delay_minutes=10, targets=[TargetSpec("user", user_id=admin.id)]),
        ]
        policy = create_policy(
            session=s, name="Storage escalation", levels=levels, team_id=team_a.id, repeat_count=1
        )
        svc_a.escalation_policy_id = policy.id
        return Demo(admin.id, alice.id, bob.id, viewer.id, inc_a, inc_b)


def _schedule(s, team_id: int, members: list[int], stand_in: int) -> int:
    """A daily rotation in Berlin with an override tomorrow, so the schedule views have shifts."""
    schedule = schedules.create_schedule(
        session=s, name="Storage primary", time_zone="Europe/Berlin", team_id=team_id
    )
    anchor = (utcnow() - timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0, tzinfo=None)
    schedules.add_layer(
        session=s, schedule_id=schedule.id, member_ids=members, rotation_kind="daily", handoff_anchor=anchor
    )
    start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    schedules.add_override(
        session=s,
        schedule_id=schedule.id,
        user_id=stand_in,
        starts_at=start,
        ends_at=start + timedelta(hours=4),
    )
    return schedule.id
