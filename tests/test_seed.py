"""`slar seed-demo`: the promised organisation, and a history whose timelines hold together."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from app import seed_catalogue as cat
from app.errors import Conflict
from app.incidents.models import Incident, IncidentEvent
from app.schedules import logic
from app.seed import seed_demo
from app.seed_plan import Person, TeamRoster, plan_history, poisson
from tests import infra

NOW = datetime(2026, 3, 20, 14, 30, tzinfo=UTC)  # spans the US spring-forward (2026-03-08)
DAYS = 14


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[sessionmaker[Session], dict[str, int]]]:
    url = infra.create_database()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    summary = seed_demo(seed=11, days=DAYS, now=NOW, sessions=sessions)
    yield sessions, summary
    engine.dispose()
    infra.drop_database(url)


def rows(sessions: sessionmaker[Session], sql: str) -> list:
    with sessions() as s:
        return list(s.execute(text(sql)).all())


def test_the_promised_organisation(seeded) -> None:
    sessions, summary = seeded
    assert summary["teams"] == 3 and summary["services"] == 6
    assert summary["users"] == len(cat.PEOPLE) + 1  # the responders and one admin
    assert summary["integrations"] == sum(len(s.integrations) for s in cat.SERVICES)
    zones = {z for (z,) in rows(sessions, "SELECT DISTINCT time_zone FROM users")}
    assert {"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"} <= zones
    kinds = {k for (k,) in rows(sessions, "SELECT DISTINCT kind FROM integrations")}
    assert len(kinds) >= 4
    per_team = rows(sessions, "SELECT team_id, count(*) FROM schedules GROUP BY team_id")
    assert len(per_team) == 3 and all(n == 1 for _, n in per_team)
    policies = rows(sessions, "SELECT s.name FROM services s WHERE s.escalation_policy_id IS NULL")
    assert policies == []
    # Every responder can be reached: contact methods and rules for each.
    unreachable = rows(
        sessions,
        """SELECT u.id FROM users u JOIN team_memberships m ON m.user_id = u.id
           WHERE NOT EXISTS (SELECT 1 FROM notification_rules r WHERE r.user_id = u.id)""",
    )
    assert unreachable == []


def test_history_volume_and_variety(seeded) -> None:
    sessions, summary = seeded
    assert summary["incidents"] >= 10 * DAYS
    assert summary["open_incidents"] >= 1
    [(reopened,)] = rows(sessions, "SELECT count(*) FROM incidents WHERE reopen_count > 0")
    [(by_source,)] = rows(sessions, "SELECT count(*) FROM incidents WHERE resolved_by_kind = 'source'")
    [(by_user,)] = rows(sessions, "SELECT count(*) FROM incidents WHERE resolved_by_kind = 'user'")
    [(grouped,)] = rows(sessions, "SELECT count(*) FROM incidents WHERE alert_count > 1")
    kinds = dict(rows(sessions, "SELECT kind, count(*) FROM incident_events GROUP BY kind"))
    manual = rows(
        sessions, "SELECT count(*) FROM incident_events WHERE kind = 'escalated' AND data->>'manual' = 'true'"
    )
    auto = rows(
        sessions,
        "SELECT count(*) FROM incident_events WHERE kind = 'escalated' AND data->>'manual' = 'false'",
    )
    assert min(reopened, by_source, by_user, grouped) > 0
    assert manual[0][0] > 0 and auto[0][0] > 0
    for kind in (
        "triggered",
        "alert_grouped",
        "alert_resolved",
        "notified",
        "acknowledged",
        "note",
        "resolved",
    ):
        assert kinds.get(kind, 0) > 0, kind


def test_some_acks_come_at_night_in_the_responders_zone(seeded) -> None:
    sessions, _ = seeded
    acks = rows(
        sessions,
        """SELECT e.at, u.time_zone FROM incident_events e JOIN users u ON u.id = e.actor_user_id
           WHERE e.kind = 'acknowledged'""",
    )
    night = [at for at, zone in acks if not 7 <= at.astimezone(ZoneInfo(zone)).hour < 23]
    assert 0 < len(night) < len(acks)


def test_every_timeline_is_consistent(seeded) -> None:
    sessions, _ = seeded
    with sessions() as s:
        events: dict[int, list[IncidentEvent]] = {}
        for e in s.scalars(select(IncidentEvent).order_by(IncidentEvent.at, IncidentEvent.id)):
            events.setdefault(e.incident_id, []).append(e)
        alert_counts = dict(s.execute(text("SELECT incident_id, count(*) FROM alerts GROUP BY 1")).all())
        for incident in s.scalars(select(Incident)):
            check_timeline(incident, events[incident.id], alert_counts.get(incident.id, 0))


def check_timeline(incident: Incident, timeline: list[IncidentEvent], alerts: int) -> None:
    kinds = [e.kind for e in timeline]
    assert kinds[0] == "triggered" and kinds.count("triggered") == 1, kinds
    assert timeline[0].at == incident.created_at
    assert all(e.at <= NOW for e in timeline)
    assert incident.alert_count == alerts == 1 + kinds.count("alert_grouped")  # a re-fire is grouped too
    assert incident.reopen_count == kinds.count("reopened")
    state = "triggered"
    for e in timeline:  # replay the timeline: the stored status must be where it ends up
        if e.kind == "acknowledged":
            assert state == "triggered", kinds
            state = "acknowledged"
        elif e.kind == "resolved":
            assert state != "resolved", kinds
            state = "resolved"
        elif e.kind == "reopened":
            assert state == "resolved", kinds
            state = "acknowledged" if "acknowledged" in kinds[: kinds.index("reopened")] else "triggered"
        elif e.kind == "escalated" and e.data["manual"]:
            state = "triggered"
        elif e.kind in ("notified", "escalated") and not e.data.get("manual"):
            assert state == "triggered", (e.kind, kinds)
    assert incident.status == state, kinds
    if incident.acknowledged_at is not None:
        first_ack = next(e for e in timeline if e.kind == "acknowledged")
        assert first_ack.at == incident.acknowledged_at >= incident.created_at
    if state == "resolved":
        assert incident.resolved_at == max(e.at for e in timeline if e.kind == "resolved")
        assert incident.next_escalation_at is None
    levels = [e.data["to_level"] for e in timeline if e.kind == "escalated"]
    assert levels == sorted(levels) and incident.current_level == (levels[-1] if levels else 0)


def test_notified_users_belong_to_the_services_team(seeded) -> None:
    sessions, _ = seeded
    strangers = rows(
        sessions,
        """SELECT e.id FROM incident_events e JOIN incidents i ON i.id = e.incident_id
           JOIN services s ON s.id = i.service_id
           WHERE e.kind = 'notified' AND NOT EXISTS (
             SELECT 1 FROM team_memberships m
             WHERE m.team_id = s.team_id AND m.user_id = (e.data->>'user_id')::int)""",
    )
    assert strangers == []
    shapes = rows(sessions, "SELECT DISTINCT data->>'channel' FROM incident_events WHERE kind = 'notified'")
    assert {c for (c,) in shapes} <= {"push", "slack", "email"}


def test_refuses_a_database_with_users_then_seeds_alongside_with_force(seeded) -> None:
    sessions, summary = seeded
    with pytest.raises(Conflict) as err:
        seed_demo(days=1, now=NOW, sessions=sessions)
    assert err.value.field == "force"
    again = seed_demo(days=1, now=NOW, sessions=sessions, force=True)
    assert again["teams"] == 6 and again["users"] == 2 * summary["users"]
    names = {n for (n,) in rows(sessions, "SELECT name FROM teams")}
    assert {"Payments", "Payments #2"} <= names


def _roster() -> tuple[dict[str, TeamRoster], dict[int, Person]]:
    people = {
        i: Person(i, "Europe/Berlin", (("push", 100 + i, 0), ("email", 200 + i, 5))) for i in range(1, 7)
    }
    rosters = {}
    for t, members in zip(("Payments", "Platform", "Mobile"), ((1, 2), (3, 4), (5, 6)), strict=True):
        layer = logic.Layer(id=1, priority=0, kind="daily", anchor=datetime(2026, 1, 5, 9), members=members)
        rosters[t] = TeamRoster(
            logic.Schedule(zone="Europe/Berlin", layers=(layer,)), members[0], members, (10, 15, 20)
        )
    return rosters, people


def test_the_plan_is_a_pure_function_of_the_seed() -> None:
    rosters, people = _roster()
    zones = {t.name: t.zone for t in cat.TEAMS}
    kw = {"services": cat.SERVICES, "rosters": rosters, "people": people, "team_zones": zones}
    window = {"start": NOW - timedelta(days=3), "end": NOW}
    a = plan_history(rng=random.Random(5), **kw, **window)
    b = plan_history(rng=random.Random(5), **kw, **window)
    c = plan_history(rng=random.Random(6), **kw, **window)
    assert a == b and a != c
    assert all(x.at <= y.at for x, y in zip(a, a[1:], strict=False))
    assert all(s.at < NOW for s in a)


def test_poisson_mean_is_roughly_lambda() -> None:
    rng = random.Random(1)
    draws = [poisson(rng, 4.0) for _ in range(4000)]
    assert 3.8 < sum(draws) / len(draws) < 4.2
