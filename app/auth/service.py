"""Sign-in: check a local argon2 password (or an OIDC identity) and remember who is signed in."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from app.auth.permissions import can_edit_team, require_admin, team_name, team_role
from app.auth.secrets import hash_password, verify_password
from app.directory.models import User
from app.directory.service import user_by_email
from app.errors import DomainError, Forbidden, Invalid

STATE_KEY = "signed_in"


class SignInFailed(DomainError):
    """Wrong e-mail or password, or an account that may not sign in."""

    status_code = 401


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, as kept in the console's session state (rights are re-read from the database)."""

    user_id: int
    email: str
    name: str
    role: str
    time_zone: str = "UTC"


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    # Verifying against a decoy for unknown e-mails keeps the answer time the same as for a wrong password.
    return hash_password("decoy password that matches nothing")


def as_signed_in(user: User) -> SignedIn:
    return SignedIn(
        user_id=user.id, email=user.email, name=user.name, role=user.role, time_zone=user.time_zone
    )


def authenticate(*, session: Session, email: str, password: str) -> SignedIn:
    """The active user with this e-mail and password; one vague error for any mismatch."""
    if not email.strip():
        raise Invalid("email must not be empty", field="email")
    if not password:
        raise Invalid("password must not be empty", field="password")
    user = user_by_email(session=session, email=email)
    if user is None or not user.password_hash:
        verify_password(password, _decoy_hash())
        raise SignInFailed("e-mail or password is wrong", field="password")
    if not verify_password(password, user.password_hash) or not user.active:
        raise SignInFailed("e-mail or password is wrong", field="password")
    return as_signed_in(user)


def identify(*, session: Session, email: str | None) -> SignedIn:
    """The active user an identity provider vouched for, matched on e-mail."""
    if not email or not email.strip():
        raise Invalid("the identity provider sent no e-mail", field="email")
    user = user_by_email(session=session, email=email)
    if user is None or not user.active:
        raise SignInFailed(f"no active SLAR account for {email.strip().lower()}", field="email")
    return as_signed_in(user)


def refresh(*, session: Session, who: SignedIn) -> SignedIn | None:
    """The signed-in user as the database has them now; None once deactivated or deleted."""
    user = session.get(User, who.user_id)
    if user is None or not user.active:
        return None
    return as_signed_in(user)


def remember(state: MutableMapping[str, Any], who: SignedIn) -> None:
    """Keep the signed-in user in the session state."""
    state[STATE_KEY] = who


def signed_in(state: Mapping[str, Any]) -> SignedIn | None:
    """The signed-in user, or None."""
    who = state.get(STATE_KEY)
    return who if isinstance(who, SignedIn) else None


def forget(state: MutableMapping[str, Any]) -> None:
    """Sign out: drop the user from the session state."""
    state.pop(STATE_KEY, None)


def require_self_or_admin(session: Session, by: int, user_id: int) -> None:
    """People edit their own contact details; admins edit anyone's."""
    if by != user_id:
        require_admin(session, by)


def may_edit_override(session: Session, by: int, team_id: int | None, user_id: int) -> bool:
    """Leads and admins edit any override of their team's schedules; a responder member only their own."""
    if can_edit_team(session, by, team_id):
        return True
    me = session.get(User, by)
    member = team_role(session, by, team_id) in ("lead", "responder")
    return by == user_id and me is not None and me.role == "responder" and member


def require_override_edit(session: Session, by: int, team_id: int | None, user_id: int) -> None:
    if may_edit_override(session, by, team_id, user_id):
        return
    me = session.get(User, by)
    who = me.name if me is not None else f"user {by}"
    raise Forbidden(
        f"{who} may only change their own overrides on {team_name(session, team_id)}'s schedules", field="by"
    )
