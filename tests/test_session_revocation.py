"""Signing out one browser: a person's open sessions, revoked one at a time or all but this one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.auth import oidc, sessions
from app.errors import Forbidden, NotFound
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ids(session: Session, user_id: int, now: datetime) -> list[int]:
    return [row.id for row in sessions.open_sessions(session=session, user_id=user_id, now=now)]


def test_revoking_one_session_signs_out_that_browser_only(session: Session) -> None:
    bob = f.user(session)
    laptop = sessions.start_session(session=session, user_id=bob.id, now=T0)
    phone = sessions.start_session(session=session, user_id=bob.id, now=T0 + timedelta(minutes=1))
    phone_id = sessions.session_id_of(session=session, cookie=phone, now=T0)
    laptop_id = sessions.session_id_of(session=session, cookie=laptop, now=T0)
    assert phone_id is not None and laptop_id is not None and phone_id != laptop_id
    # Most recently active first; an expired session is not listed.
    assert _ids(session, bob.id, T0 + timedelta(minutes=2)) == [phone_id, laptop_id]
    assert _ids(session, bob.id, T0 + sessions.lifetime() + timedelta(minutes=1)) == []
    sessions.revoke_session(session=session, session_id=phone_id, by=bob.id, now=T0)
    assert sessions.session_user(session=session, cookie=phone, now=T0) is None
    assert sessions.session_user(session=session, cookie=laptop, now=T0) is not None
    assert _ids(session, bob.id, T0) == [laptop_id]
    # Revoking again changes nothing (the first revocation time stays).
    again = sessions.revoke_session(
        session=session, session_id=phone_id, by=bob.id, now=T0 + timedelta(hours=1)
    )
    assert again.revoked_at == T0


def test_only_the_owner_or_an_admin_revokes_and_a_missing_session_is_named(session: Session) -> None:
    bob, alice, ada = f.user(session), f.user(session), f.user(session, role="admin")
    cookie = sessions.start_session(session=session, user_id=bob.id, now=T0)
    bob_session = sessions.session_id_of(session=session, cookie=cookie, now=T0)
    assert bob_session is not None
    with pytest.raises(Forbidden) as refused:
        sessions.revoke_session(session=session, session_id=bob_session, by=alice.id, now=T0)
    assert refused.value.field == "by"
    with pytest.raises(Forbidden):
        sessions.end_sessions_by(session=session, by=alice.id, user_id=bob.id, now=T0)
    assert sessions.session_user(session=session, cookie=cookie, now=T0) is not None  # nothing changed
    with pytest.raises(NotFound) as missing:
        sessions.revoke_session(session=session, session_id=bob_session + 1000, by=ada.id, now=T0)
    assert missing.value.field == "session_id"
    sessions.revoke_session(session=session, session_id=bob_session, by=ada.id, now=T0)
    assert sessions.session_user(session=session, cookie=cookie, now=T0) is None


def test_signing_out_other_browsers_spares_this_one_and_an_admin_ends_them_all(session: Session) -> None:
    bob, ada = f.user(session), f.user(session, role="admin")
    here, *others = [sessions.start_session(session=session, user_id=bob.id, now=T0) for _ in range(3)]
    ada_cookie = sessions.start_session(session=session, user_id=ada.id, now=T0)
    assert sessions.end_sessions_by(session=session, by=bob.id, user_id=bob.id, keep=here, now=T0) == 2
    assert sessions.session_user(session=session, cookie=here, now=T0) is not None
    assert all(sessions.session_user(session=session, cookie=c, now=T0) is None for c in others)
    # A cookie that is no live session of his spares nothing; an admin ends every browser of Bob's.
    assert sessions.end_sessions_by(session=session, by=ada.id, user_id=bob.id, keep=ada_cookie, now=T0) == 1
    assert sessions.session_user(session=session, cookie=here, now=T0) is None
    assert sessions.session_user(session=session, cookie=ada_cookie, now=T0) is not None


def test_the_swap_clears_every_part_of_streamlits_cookies_and_nothing_else() -> None:
    held = {
        "_streamlit_user": "a",
        "_streamlit_user_1": "b",
        "_streamlit_user_tokens": "c",
        "_streamlit_user_tokens_2": "d",
        "_streamlit_user_x": "e",
        "slar_session": "f",
        "slar_next": "g",
    }
    assert sorted(oidc.streamlit_cookies(held)) == [
        "_streamlit_user",
        "_streamlit_user_1",
        "_streamlit_user_tokens",
        "_streamlit_user_tokens_2",
    ]
