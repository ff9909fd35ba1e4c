"""Console sessions behind an HttpOnly cookie: signed, expiring, stored hashed, revocable."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.models import ConsoleSession
from app.auth.secrets import new_token, token_hash
from app.auth.service import SignedIn, as_signed_in, require_self_or_admin
from app.config import get_settings
from app.db import get_or_404, utcnow
from app.directory.models import User

COOKIE_NAME = "slar_session"
SIGN_IN = "/signin"
SIGN_OUT = "/signout"
# Writing last_seen_at on every script run would turn each click into an UPDATE; once a minute is enough.
SEEN_EVERY = timedelta(minutes=1)


def _key() -> bytes:
    settings = get_settings()
    if settings.session_secret:
        return settings.session_secret.get_secret_value().encode()
    # Unset: a key every console replica derives alike (a per-process key would make replicas refuse
    # each other's cookies). The signature is a second lock only: the token itself is random and must
    # match a live, hashed row in Postgres.
    return hashlib.sha256(f"slar-session:{settings.database_url}".encode()).digest()


def _signature(token: str) -> str:
    digest = hmac.new(_key(), token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _token_of(cookie: str | None) -> str | None:
    """The token inside a well-signed cookie value, or None for anything else."""
    token, _, signature = (cookie or "").rpartition(".")
    if not token or not hmac.compare_digest(signature, _signature(token)):
        return None
    return token


def lifetime() -> timedelta:
    return timedelta(hours=get_settings().session_hours)


def start_session(*, session: Session, user_id: int, now: datetime | None = None) -> str:
    """Open a session for a signed-in user; returns the cookie value (the only copy of the token)."""
    now = now or utcnow()
    token = new_token("slars")
    session.add(
        ConsoleSession(
            user_id=user_id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + lifetime(),
            last_seen_at=now,
        )
    )
    session.flush()
    return f"{token}.{_signature(token)}"


def _live(session: Session, cookie: str | None, now: datetime) -> ConsoleSession | None:
    token = _token_of(cookie)
    if token is None:
        return None
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


def session_user(*, session: Session, cookie: str | None, now: datetime | None = None) -> SignedIn | None:
    """Who a cookie signs in, as the database has them now; None if forged, expired, revoked, deactivated."""
    now = now or utcnow()
    row = _live(session, cookie, now)
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        end_sessions_of(session=session, user_id=row.user_id, now=now)
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
    return as_signed_in(user)


def end_session(*, session: Session, cookie: str | None, now: datetime | None = None) -> bool:
    """Sign out one browser: its session can never be used again."""
    now = now or utcnow()
    row = _live(session, cookie, now)
    if row is None:
        return False
    row.revoked_at = now
    return True


def end_sessions_of(*, session: Session, user_id: int, now: datetime | None = None) -> int:
    """Revoke every open session of a user (deactivation, a password change); returns how many."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(*, session: Session, user_id: int, now: datetime | None = None) -> list[ConsoleSession]:
    """A user's sessions that still sign a browser in (one per browser), most recently active first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(ConsoleSession)
            .where(
                ConsoleSession.user_id == user_id,
                ConsoleSession.revoked_at.is_(None),
                ConsoleSession.expires_at > now,
            )
            .order_by(ConsoleSession.last_seen_at.desc(), ConsoleSession.id.desc())
        )
    )


def session_id_of(*, session: Session, cookie: str | None, now: datetime | None = None) -> int | None:
    """The id of the live session a cookie holds (to tell "this browser" among a user's sessions)."""
    row = _live(session, cookie, now or utcnow())
    return row.id if row is not None else None


def revoke_session(
    *, session: Session, session_id: int, by: int, now: datetime | None = None
) -> ConsoleSession:
    """Sign out one browser, on its owner's or an admin's word: it is out at its next run or reload."""
    row = get_or_404(session, ConsoleSession, session_id, what="session", field="session_id")
    require_self_or_admin(session, by, row.user_id)
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
    return row


def end_sessions_by(
    *, session: Session, by: int, user_id: int, keep: str | None = None, now: datetime | None = None
) -> int:
    """Revoke a user's open sessions on their own or an admin's word, sparing the browser holding `keep`."""
    require_self_or_admin(session, by, user_id)
    now = now or utcnow()
    spared = session_id_of(session=session, cookie=keep, now=now)
    open_ = (ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
    query = update(ConsoleSession).where(*open_)
    if spared is not None:
        query = query.where(ConsoleSession.id != spared)
    return int(getattr(session.execute(query.values(revoked_at=now)), "rowcount", 0) or 0)


def safe_next(target: str | None) -> str:
    """A local path to return to after sign-in; anything pointing elsewhere falls back to the root."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


_MODE = {"cookie": False}


def enable_cookie_sign_in() -> None:
    """Called by the console's web server (app/web.py), which owns the /signin endpoint and its cookie."""
    _MODE["cookie"] = True


def cookie_sign_in_enabled() -> bool:
    """True behind app/web.py; a bare `streamlit run app/console.py` keeps sign-in per browser tab."""
    return _MODE["cookie"]


def sign_in_url(target: str) -> str:
    """Where to send someone who must sign in before seeing `target` (a local path with its query)."""
    return f"{SIGN_IN}?next={quote(safe_next(target), safe='')}"
