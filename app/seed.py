"""`slar seed-demo`: a demo organisation and 90 days of incident history, through the domain services.

Same seed, same organisation and the same history relative to the moment of seeding. History is
played step by step through app.alerts.service (alerts fire and clear exactly as webhooks would),
app.incidents.service (acknowledge, escalate, note, resolve) with each step's time as `now=`, one
transaction per day. Episodes still running at the moment of seeding stay open.

Events written besides those of the incident service (their `data` shapes, for analytics):
- ``notified``: a page reached a person: ``{"user_id": int, "channel": "push"|"slack"|"email",
  "level": int, "repeat_index": 0, "run": str (the incident's escalation_token), "contact_method_id": int,
  "delivery_id": None}`` (demo history
  has no delivery rows; live pages carry their delivery's id).
- ``escalated`` when nobody acknowledged within the level's delay, as the escalation engine writes
  it: ``{"from_level": int, "to_level": int, "repeat": 0, "manual": False}``; escalations by hand
  come from incidents.service.escalate with ``"manual": True``.
From the services: ``triggered``/``alert_grouped`` ``{"alert_id", "fingerprint", "summary"}``,
``alert_resolved`` ``{"alert_id", "fingerprint"}``, ``reopened`` ``{"reopen_count"}``,
``acknowledged`` ``{"level"}``, ``note`` ``{"text"}``, ``resolved`` ``{"resolved_by_kind":
"user"|"source"}``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import app.models  # noqa: F401 - every table registered, so foreign keys resolve
from app import seed_catalogue as cat
from app.db import session_factory
from app.directory import service as directory
from app.directory.models import Integration, Service, Team, User
from app.errors import Conflict
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents.models import Alert, Incident, IncidentEvent
from app.notifications.reminders_service import set_reminders
from app.notifications.rules_service import StepSpec, set_rules
from app.schedules import service as schedules
from app.seed_plan import Person, TeamRoster, plan_history
from app.seed_player import play_in_parallel

ADMIN_LOGIN = cat.ADMIN_EMAIL
DEMO_PASSWORD = cat.DEMO_PASSWORD
LEVEL_DELAYS = (10, 15, 20)  # minutes at: the on-call person, the team lead, the whole team


def _sessions() -> sessionmaker[Session]:
    return session_factory()


def database_is_empty(sessions: sessionmaker[Session] | None = None) -> bool:
    """True when the database has no users (the seed's own test of "empty")."""
    with (sessions or _sessions())() as session:
        return not session.scalar(select(func.count()).select_from(User))


def _suffix(session: Session) -> str:
    """'' on an empty directory; else ' #k' so a forced second seed never clashes on a name."""
    names, first = set(session.scalars(select(Team.name))), cat.TEAMS[0].name
    if first not in names:
        return ""
    k = 2
    while f"{first} #{k}" in names:
        k += 1
    return f" #{k}"


def _important_rules(session: Session, user_id: int, push_id: int, slack_id: int) -> None:
    """Critical pages: push and Slack at once, push again after 5 minutes; a reminder an hour ahead."""
    steps = [StepSpec("notify", push_id), StepSpec("notify", slack_id), StepSpec("wait", minutes=5)]
    set_rules(
        session=session, user_id=user_id, urgency="important", steps=[*steps, StepSpec("notify", push_id)]
    )
    set_reminders(session=session, user_id=user_id, enabled=True, lead_minutes=60, contact_method_id=slack_id)


def _email(name: str, suffix: str) -> str:
    local = name.lower().replace(" ", ".")
    tag = f"+{suffix.strip(' #')}" if suffix else ""
    return f"{local}{tag}@demo.slar.dev"


def _people(
    session: Session, suffix: str, rng: random.Random, password_hash: str
) -> dict[str, tuple[User, Person]]:
    out: dict[str, tuple[User, Person]] = {}
    for i, p in enumerate(cat.PEOPLE):
        slack_id = f"UD{suffix.strip(' #') or 1}X{i:02d}{rng.randrange(16**4):04X}"
        user = directory.create_user(
            session=session,
            email=_email(p.name, suffix),
            name=p.name,
            time_zone=p.zone,
            slack_user_id=slack_id,
        )
        user.password_hash = password_hash
        push = directory.add_contact_method(
            session=session, user_id=user.id, kind="push", address=f"fcm-demo-{i}-{rng.randrange(10**8)}",
            label="Phone", verified=True,
        )  # fmt: skip
        slack = directory.add_contact_method(
            session=session, user_id=user.id, kind="slack", address=slack_id, label="Slack", verified=True
        )
        channels = [("push", push.id, 0), ("slack", slack.id, 0)]
        directory.add_notification_rule(session=session, user_id=user.id, contact_method_id=push.id)
        directory.add_notification_rule(session=session, user_id=user.id, contact_method_id=slack.id)
        _important_rules(session, user.id, push.id, slack.id)
        if p.email_delay is not None:
            mail = directory.add_contact_method(
                session=session, user_id=user.id, kind="email", address=user.email, verified=True
            )
            directory.add_notification_rule(
                session=session, user_id=user.id, contact_method_id=mail.id, delay_minutes=p.email_delay
            )
            channels.append(("email", mail.id, p.email_delay))
        out[p.name] = (user, Person(id=user.id, zone=p.zone, channels=tuple(channels)))
    return out


def _team(
    session: Session,
    team_def: cat.TeamDef,
    suffix: str,
    people: dict[str, tuple[User, Person]],
    start: datetime,
) -> tuple[Team, int]:
    """Create a team with its members, schedule and escalation policy; returns (team, policy id)."""
    team = directory.create_team(
        session=session, name=team_def.name + suffix, description=team_def.description,
        slack_channel=team_def.slack_channel,
    )  # fmt: skip
    members = [(people[p.name][0], p.team_role) for p in cat.PEOPLE if p.team == team_def.name]
    for user, role in members:
        directory.add_member(session=session, team_id=team.id, user_id=user.id, role=role)
    lead = next(u for u, role in members if role == "lead")
    schedule = schedules.create_schedule(
        session=session, name=f"{team_def.name}{suffix} primary", time_zone=team_def.zone, team_id=team.id
    )
    # The anchor is a Monday before the history starts, at the handoff hour in the team's zone.
    monday = (start - timedelta(days=start.weekday() + 7)).replace(tzinfo=None)
    anchor = monday.replace(hour=team_def.handoff_hour, minute=0, second=0, microsecond=0)
    schedules.add_layer(
        session=session, schedule_id=schedule.id, member_ids=[u.id for u, _ in members],
        rotation_kind=team_def.rotation, handoff_anchor=anchor, name=f"{team_def.rotation.title()} rotation",
    )  # fmt: skip
    if team_def.name == "Platform":
        # Office hours belong to the lead, so the rotation only carries nights and weekends.
        schedules.add_layer(
            session=session, schedule_id=schedule.id, member_ids=[lead.id], rotation_kind="weekly",
            handoff_anchor=anchor, priority=1, name="Office hours",
            restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        )  # fmt: skip
    policy = create_policy(
        session=session,
        name=f"{team_def.name}{suffix} default",
        team_id=team.id,
        repeat_count=1,
        levels=[
            LevelSpec(LEVEL_DELAYS[0], [TargetSpec(kind="schedule", schedule_id=schedule.id)]),
            LevelSpec(LEVEL_DELAYS[1], [TargetSpec(kind="user", user_id=lead.id)]),
            LevelSpec(LEVEL_DELAYS[2], [TargetSpec(kind="team", team_id=team.id)]),
        ],
    )
    return team, policy.id


def _roster(session: Session, team: Team, people: dict[str, tuple[User, Person]]) -> TeamRoster:
    [schedule] = schedules.list_schedules(session=session, team_id=team.id)
    members = directory.team_members(session=session, team_id=team.id)
    return TeamRoster(
        schedule=schedules.load_schedule(session=session, schedule_id=schedule.id),
        lead=next(u.id for u, role in members if role == "lead"),
        members=tuple(u.id for u, _ in members),
        level_delays=LEVEL_DELAYS,
    )


def build_directory(
    session: Session, rng: random.Random, start: datetime
) -> tuple[dict[str, list[Integration]], dict[str, TeamRoster], dict[int, Person]]:
    """Teams, people, schedules, policies, services and integrations of the demo organisation."""
    suffix = _suffix(session)
    admin = directory.create_user(
        session=session, email=_email("admin", suffix), name="Demo Admin", role="admin", time_zone="UTC"
    )
    directory.set_password(session=session, user_id=admin.id, password=cat.DEMO_PASSWORD)
    # One argon2 hash for every demo account (same password): hashing is deliberately slow.
    people = _people(session, suffix, rng, str(admin.password_hash))
    rosters: dict[str, TeamRoster] = {}
    policies: dict[str, tuple[Team, int]] = {}
    for team_def in cat.TEAMS:
        policies[team_def.name] = _team(session, team_def, suffix, people, start)
    integrations: dict[str, list[Integration]] = {}
    for svc in cat.SERVICES:
        team, policy_id = policies[svc.team]
        row = directory.create_service(
            session=session, name=svc.name + suffix.replace(" #", "-"), team_id=team.id,
            escalation_policy_id=policy_id, description=svc.description,
        )  # fmt: skip
        integrations[svc.name] = [
            directory.create_integration(
                session=session, service_id=row.id, kind=kind, name=name, auto_resolve=auto
            )[0]
            for kind, name, auto in svc.integrations
        ]
    for team_def in cat.TEAMS:
        rosters[team_def.name] = _roster(session, policies[team_def.name][0], people)
    return integrations, rosters, {p.id: p for _, p in people.values()}


def _counts(session: Session) -> dict[str, int]:
    def count(model: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return {
        "teams": count(Team),
        "users": count(User),
        "services": count(Service),
        "integrations": count(Integration),
        "incidents": count(Incident),
        "open_incidents": count(Incident, Incident.status != "resolved"),
        "alerts": count(Alert),
        "events": count(IncidentEvent),
    }


def seed_demo(
    *,
    seed: int = 7,
    days: int = 90,
    force: bool = False,
    now: datetime | None = None,
    sessions: sessionmaker[Session] | None = None,
) -> dict[str, int]:
    """Seed the demo organisation and `days` of history ending at `now`; refuses a non-empty database."""
    sessions = sessions or _sessions()
    if not force and not database_is_empty(sessions):
        raise Conflict("the database already has users; pass --force to seed anyway", field="force")
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    start = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0)
    rng = random.Random(seed)
    with sessions() as session:
        integrations, rosters, people = build_directory(session, rng, start)
        session.commit()
        zones = {t.name: t.zone for t in cat.TEAMS}
        steps = plan_history(
            rng=rng,
            services=cat.SERVICES,
            rosters=rosters,
            people=people,
            team_zones=zones,
            start=start,
            end=end,
        )
        ids = {name: [i.id for i in rows] for name, rows in integrations.items()}
    groups = [{s.name for s in cat.SERVICES if s.team == t.name} for t in cat.TEAMS]
    play_in_parallel(sessions, ids, [[s for s in steps if s.service in g] for g in groups])
    with sessions() as session:
        return _counts(session)
