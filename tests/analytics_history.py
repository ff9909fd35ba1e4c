"""A small incident history with exactly known timestamps, built through the app services.

Window of interest: [2026-03-01, 2026-03-10) UTC. US clocks spring forward on 2026-03-08 02:00
local; Berlin stays on CET (UTC+1) for the whole window. Expected metric values are derived by hand
in tests/test_analytics_truth.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.incidents import service as incidents
from app.schedules import service as schedules
from tests import factories

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 10, tzinfo=UTC)


def at(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, ss, tzinfo=UTC)


@dataclass
class History:
    alice: int
    bob: int
    carol: int
    team: int
    s1: int
    s2: int
    int_a: int
    int_b: int
    incidents: dict[str, int]


def _page(session: Session, incident_id: int, user_id: int, when: datetime, **data: object) -> None:
    payload = {"user_id": user_id, "channel": "slack", "level": 0, "repeat_index": 0, **data}
    incidents.record_event(session=session, incident_id=incident_id, kind="notified", at=when, data=payload)


def build(session: Session) -> History:
    """Create the users, team, services and the eight incidents I1..I8; the caller commits."""
    alice = factories.user(session, time_zone="America/New_York", name="Alice")
    bob = factories.user(session, time_zone="Europe/Berlin", name="Bob")
    carol = factories.user(session, time_zone="Asia/Tokyo", name="Carol")
    team = factories.team(session, members=[(alice, "responder"), (bob, "lead"), (carol, "responder")])
    policy = factories.policy_for(session, [alice, bob])
    s1 = factories.service(session, team_id=team.id, policy_id=policy)
    s2 = factories.service(session, team_id=team.id)
    int_a, _ = factories.integration(session, s1.id, kind="alertmanager")
    int_b, _ = factories.integration(session, s2.id, kind="generic")
    ids: dict[str, int] = {}
    # Daily UTC handoff at midnight: alice 03-01, bob 03-02, alice 03-03, ...; carol covers 03-04 00-12.
    primary = schedules.create_schedule(
        session=session, name=f"Primary {team.id}", time_zone="UTC", team_id=team.id
    )
    schedules.add_layer(
        session=session,
        schedule_id=primary.id,
        member_ids=[alice.id, bob.id],
        rotation_kind="daily",
        handoff_anchor=datetime(2026, 3, 1),
    )
    schedules.add_override(
        session=session, schedule_id=primary.id, user_id=carol.id, starts_at=at(4, 0), ends_at=at(4, 12)
    )

    def trigger(name: str, svc: int, integ: int, key: str, when: datetime, severity: str = "error") -> int:
        alert = factories.alert(dedup_key=key, severity=severity, summary=f"{key} alert")
        result = incidents.trigger_or_group(
            session=session, service_id=svc, dedup_key=key, alert=alert, integration_id=integ.id, now=when
        )
        ids.setdefault(name, result.incident.id)
        return result.incident.id

    def ack(i: int, who: int, when: datetime) -> None:
        incidents.acknowledge(session=session, incident_id=i, by=who, now=when)

    def resolve(i: int, who: int | None, when: datetime, kind: str | None = None) -> None:
        actor = "source:generic" if who is None else None
        incidents.resolve(session=session, incident_id=i, by=who, actor=actor, kind=kind, now=when)

    i1 = trigger("I1", s1.id, int_a, "cpu", at(2, 10), "critical")
    _page(session, i1, alice.id, at(2, 10))
    _page(session, i1, alice.id, at(2, 10, 0, 1), channel="push")  # same step, second channel
    ack(i1, alice.id, at(2, 10, 5))
    resolve(i1, alice.id, at(2, 10, 35))

    i2 = trigger("I2", s1.id, int_a, "disk", at(3, 12))
    trigger("I2", s1.id, int_a, "disk", at(3, 12, 1))  # a second alert grouped into it
    _page(session, i2, alice.id, at(3, 12))
    incidents.escalate(session=session, incident_id=i2, by=None, now=at(3, 12, 10))
    _page(session, i2, bob.id, at(3, 12, 10), level=1)
    ack(i2, bob.id, at(3, 12, 15))
    resolve(i2, bob.id, at(3, 13, 15))

    i3 = trigger("I3", s2.id, int_b, "noisy", at(4, 8), "warning")
    _page(session, i3, bob.id, at(4, 8))
    resolve(i3, None, at(4, 8, 7, 30), kind="source")

    i4 = trigger("I4", s1.id, int_a, "flap", at(5, 9))
    _page(session, i4, alice.id, at(5, 9))
    ack(i4, alice.id, at(5, 9, 2))
    resolve(i4, alice.id, at(5, 9, 30))
    assert trigger("I4", s1.id, int_a, "flap", at(5, 9, 35)) == i4  # flaps back within the window
    resolve(i4, alice.id, at(5, 10))

    i5 = trigger("I5", s2.id, int_b, "mem", at(6, 21, 30))
    _page(session, i5, alice.id, at(6, 21, 30))
    _page(session, i5, bob.id, at(6, 21, 30))
    incidents.snooze(
        session=session, incident_id=i5, by=bob.id, duration=timedelta(minutes=30), now=at(6, 21, 31)
    )
    ack(i5, bob.id, at(6, 22, 10))
    resolve(i5, bob.id, at(6, 22, 30))

    i6 = trigger("I6", s1.id, int_a, "cpu", at(8, 6, 30), "critical")
    _page(session, i6, alice.id, at(8, 6, 30))
    _page(session, i6, alice.id, at(8, 7, 30), repeat_index=1)
    ack(i6, alice.id, at(8, 7, 40))

    i7 = trigger("I7", s2.id, int_b, "noisy", at(8, 11, 30), "warning")
    _page(session, i7, alice.id, at(8, 11, 30))
    resolve(i7, None, datetime(2026, 3, 10, 1, tzinfo=UTC), kind="source")

    i8 = trigger("I8", s1.id, int_a, "late", datetime(2026, 3, 11, tzinfo=UTC))
    _page(session, i8, alice.id, datetime(2026, 3, 11, tzinfo=UTC))
    session.flush()
    return History(alice.id, bob.id, carol.id, team.id, s1.id, s2.id, int_a.id, int_b.id, ids)
