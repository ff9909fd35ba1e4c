"""Factories for domain objects, built through the app services so tests see real rules."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.directory import service as directory
from app.directory.models import Integration, Service, Team, User
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from tests import secret_registry

_seq = itertools.count(1)


def n() -> int:
    return next(_seq)


def user(session: Session, *, role: str = "responder", time_zone: str = "UTC", **kw: object) -> User:
    i = n()
    secret_registry.register(kw.get("password"))  # type: ignore[arg-type]
    return directory.create_user(
        session=session,
        email=kw.pop("email", f"user{i}-{id(session)}@example.test"),  # type: ignore[arg-type]
        name=kw.pop("name", f"User {i}"),
        role=role,
        time_zone=time_zone,
        **kw,  # type: ignore[arg-type]
    )


def team(session: Session, *, members: list[tuple[User, str]] | None = None) -> Team:
    t = directory.create_team(session=session, name=f"Team {n()}-{id(session)}")
    for u, role in members or []:
        directory.add_member(session=session, team_id=t.id, user_id=u.id, role=role)
    return t


def policy_for(session: Session, users: list[User], delay_minutes: int = 5, repeat_count: int = 0) -> int:
    levels = [
        LevelSpec(delay_minutes=delay_minutes, targets=[TargetSpec(kind="user", user_id=u.id)]) for u in users
    ]
    return create_policy(
        session=session, name=f"Policy {n()}-{id(session)}", levels=levels, repeat_count=repeat_count
    ).id


def service(session: Session, *, team_id: int | None = None, policy_id: int | None = None) -> Service:
    return directory.create_service(
        session=session, name=f"Service {n()}-{id(session)}", team_id=team_id, escalation_policy_id=policy_id
    )


def integration(session: Session, service_id: int, kind: str = "generic") -> tuple[Integration, str]:
    made = directory.create_integration(
        session=session, service_id=service_id, kind=kind, name=f"{kind} {n()}"
    )
    secret_registry.register(made[1])
    return made


def alert(
    fingerprint: str | None = None,
    *,
    dedup_key: str = "key",
    severity: str = "error",
    summary: str = "Disk almost full",
    starts_at: datetime | None = None,
) -> AlertEvent:
    return AlertEvent(
        fingerprint=fingerprint or f"fp-{uuid.uuid4().hex[:12]}",
        dedup_key=dedup_key,
        action="trigger",
        summary=summary,
        severity=severity,
        starts_at=starts_at,  # type: ignore[arg-type]
    )
