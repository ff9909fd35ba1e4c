"""Public API keys: created by a user (who the key acts as), scoped, optionally team-limited and expiring.

A key never carries rights of its own beyond its scopes: every call is checked against what its user
may do now (app.auth.permissions), so demoting or deactivating the user narrows the key at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.permissions import require_admin, team_role
from app.auth.secrets import new_token, token_hash
from app.db import get_or_404, utcnow
from app.directory.models import API_SCOPES, ApiKey, Team, User
from app.errors import DomainError, Forbidden, Invalid, NotFound

# Last use is written at most this often per key, so a busy script does not write on every call.
TOUCH_EVERY = timedelta(seconds=10)
PREFIX = "slar"


class KeyRejected(DomainError):
    """An unknown, revoked or expired key, or one whose user may no longer sign in."""

    status_code = 401


@dataclass(frozen=True)
class Caller:
    """Who an API request acts as: the key's user, with the key's scopes and team limit."""

    key_id: int
    user_id: int
    role: str
    scopes: frozenset[str]
    team_id: int | None

    def allows(self, scope: str) -> bool:
        return scope == "read" or scope in self.scopes


def check_scopes(scopes: list[str]) -> list[str]:
    for scope in scopes:
        if scope not in API_SCOPES:
            raise Invalid(f"scope {scope!r} is not one of {', '.join(API_SCOPES)}", field="scopes")
    return sorted(set(scopes) | {"read"})


def create_key(
    *,
    session: Session,
    by: int,
    name: str,
    scopes: list[str],
    team_id: int | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A key acting as `by`; returns it with the raw secret, which is shown once and never stored."""
    now = now or utcnow()
    user = session.get(User, by)
    if user is None or not user.active:
        raise NotFound(f"user {by} does not exist", field="by")
    if not name.strip() or len(name) > 200:
        raise Invalid("name must be 1 to 200 characters", field="name")
    checked = check_scopes(scopes)
    if team_id is not None:
        if session.get(Team, team_id) is None:
            raise Invalid(f"team {team_id} does not exist", field="team_id")
        if user.role != "admin" and team_role(session, by, team_id) is None:
            raise Forbidden(f"user {by} is not a member of team {team_id}", field="team_id")
    if expires_at is not None and expires_at <= now:
        raise Invalid("expires_at must be in the future", field="expires_at")
    raw = new_token(PREFIX)
    key = ApiKey(
        name=name.strip(),
        key_hash=token_hash(raw),
        prefix=raw[:9],
        role=user.role,
        user_id=by,
        scopes=checked,
        team_id=team_id,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, raw


def list_keys(*, session: Session, by: int | None, all_users: bool = False) -> list[ApiKey]:
    """The caller's keys, newest first; every user's for an admin, or for the operator (by=None, the CLI)."""
    stmt = select(ApiKey).where(ApiKey.prefix.startswith(PREFIX + "_")).order_by(ApiKey.id.desc())
    if by is not None and all_users:
        require_admin(session, by)
    elif by is not None:
        stmt = stmt.where(ApiKey.user_id == by)
    return list(session.scalars(stmt))


def revoke_key(*, session: Session, by: int | None, key_id: int, now: datetime | None = None) -> ApiKey:
    """Revoke a key at once: its owner, an admin or the operator (by=None) may. Twice keeps the first time."""
    key = get_or_404(session, ApiKey, key_id, what="API key", field="key_id")
    if by is not None and key.user_id != by:
        require_admin(session, by)
    key.revoked_at = key.revoked_at or now or utcnow()
    session.flush()
    return key


def authenticate(
    *, session: Session, raw: str, now: datetime | None = None, address: str = "", agent: str = ""
) -> Caller:
    """The caller a presented secret acts as; KeyRejected for anything that may not be used."""
    now = now or utcnow()
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(raw))) if raw else None
    if key is None:
        raise KeyRejected("unknown API key", field="Authorization")
    if key.revoked_at is not None:
        raise KeyRejected("this API key was revoked", field="Authorization")
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRejected("this API key has expired", field="Authorization")
    user = session.get(User, key.user_id) if key.user_id is not None else None
    if user is None or not user.active:
        raise KeyRejected("the user of this API key is no longer active", field="Authorization")
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(last_used_at=now, last_used_ip=address[:64], last_used_agent=agent[:500])
        )
    return Caller(key.id, user.id, user.role, frozenset(key.scopes), key.team_id)
