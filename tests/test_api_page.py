"""The API keys & webhooks page in AppTest: a key is created and shown once, then revoked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.auth.apikeys import authenticate
from app.auth.secrets import token_hash
from app.db import session_scope
from app.directory.models import ApiKey
from app.webhooks.models import OutgoingWebhook
from tests import console_data
from tests import factories as f
from tests.test_console import signed_in_app


@pytest.fixture(scope="module")
def people(redis_env: dict[str, str]) -> Iterator[dict[str, int]]:
    with console_data.database_for_console():
        with session_scope() as s:
            lead = f.user(s)
            team = f.team(s, members=[(lead, "lead")])
            ids = {"lead": lead.id, "team": team.id}
        yield ids


def test_create_shows_the_key_once_then_revoke(people: dict[str, int]) -> None:
    at = signed_in_app(people["lead"], "api.py")
    assert not at.exception, [e.value for e in at.exception]
    at.text_input[0].input("grafana terraform")
    at.multiselect[0].select("config:write")
    at.button(key="FormSubmitter:new_key-Create API key").click().run()
    assert not at.exception, [e.value for e in at.exception]
    raw = next(c.value for c in at.code if c.value.startswith("slar_"))
    with session_scope() as s:
        key = s.query(ApiKey).filter_by(key_hash=token_hash(raw)).one()
        assert key.user_id == people["lead"] and key.scopes == ["config:write", "read"]
        assert authenticate(session=s, raw=raw).user_id == people["lead"]
    at.run()  # shown once: the next run no longer has it
    assert all(not c.value.startswith("slar_") for c in at.code)
    at.button(key="revoke").click().run()
    with session_scope() as s:
        assert s.query(ApiKey).filter_by(key_hash=token_hash(raw)).one().revoked_at is not None


def test_subscribe_a_webhook_for_the_team(people: dict[str, int]) -> None:
    at = signed_in_app(people["lead"], "api.py")
    form = [t for t in at.text_input if t.label in ("Name", "URL")]
    form[0].input("chat")
    form[1].input("https://chat.example.test/hook")
    at.selectbox[-1].select(people["team"])
    at.button(key="FormSubmitter:new_hook-Subscribe").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("whsec_") for c in at.code)
    with session_scope() as s:
        hook = s.query(OutgoingWebhook).filter_by(name="chat").one()
        assert hook.team_id == people["team"] and "acknowledged" in hook.events
