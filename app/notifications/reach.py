"""Who a page can actually reach: warnings for the People page, the Overview and `slar up`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.directory.models import User
from app.notifications.channels import CONFIGURED, configured_kinds
from app.notifications.models import ContactMethod
from app.notifications.rules_service import load_steps
from app.schedules.service import on_call_now


def unreachable(*, session: Session, user_ids: list[int], settings: Settings) -> list[int]:
    """Those of these users with no enabled contact method through a configured channel."""
    if not user_ids:
        return []
    kinds = configured_kinds(settings)
    reachable = set(
        session.scalars(
            select(ContactMethod.user_id).where(
                ContactMethod.user_id.in_(user_ids),
                ContactMethod.disabled.is_(False),
                ContactMethod.kind.in_(kinds),
            )
        )
    )
    return [u for u in dict.fromkeys(user_ids) if u not in reachable]


def on_call_unreachable(*, session: Session, at: datetime, settings: Settings) -> list[tuple[int, str]]:
    """(id, name) of everyone on call now whom no configured channel reaches."""
    on_call = [u for users in on_call_now(session=session, at=at).values() for u in users]
    ids = unreachable(session=session, user_ids=on_call, settings=settings)
    names = (
        {uid: name for uid, name in session.execute(select(User.id, User.name).where(User.id.in_(ids)))}
        if ids
        else {}
    )
    return [(u, names.get(u, f"user {u}")) for u in ids]


def rule_warnings(*, session: Session, user_id: int, settings: Settings) -> list[str]:
    """What is wrong with how this person would be paged, in words, for the People page."""
    methods = session.scalars(select(ContactMethod).where(ContactMethod.user_id == user_id)).all()
    if not methods:
        return ["No contact method: a page cannot reach this person."]
    kinds = configured_kinds(settings)
    out: list[str] = []
    if not any(m.kind in kinds and not m.disabled for m in methods):
        missing = sorted(
            {CONFIGURED[m.kind][1] for m in methods if m.kind not in kinds and CONFIGURED[m.kind][1]}
        )
        out.append(f"No channel of theirs is configured here: pages reach nobody (set {'; '.join(missing)}).")
    steps = load_steps(session=session, user_id=user_id)
    if not steps:
        out.append("No notification rules: a page goes to every contact method at once.")
    for s in steps:
        if s.step == "notify" and s.kind not in kinds:
            out.append(
                f"{s.urgency} step {s.position + 1} ({s.kind}) is skipped: {s.kind} is not configured."
            )
        elif s.step == "notify" and s.disabled:
            out.append(f"{s.urgency} step {s.position + 1} ({s.kind}) is skipped: the method is disabled.")
    return out


def unconfigured_summary(settings: Settings, kinds_in_use: set[str]) -> str | None:
    """One line for `slar up`: which channels people use that cannot send here, or None."""
    missing = sorted(k for k in kinds_in_use if k not in configured_kinds(settings))
    if not missing:
        return None
    return (
        f"channels not configured, pages by {', '.join(missing)} are recorded as not configured "
        "and reach nobody until you set their credentials (see README: Reaching people)"
    )


def kinds_in_use(*, session: Session) -> set[str]:
    return set(
        session.scalars(select(ContactMethod.kind).where(ContactMethod.disabled.is_(False)).distinct())
    )
