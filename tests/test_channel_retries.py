"""Every new channel through its real client against a loopback: 5xx/429 retried (Retry-After), 4xx final."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.notifications.logic import IncidentView, Outbound
from tests.loopback._http import Call, LoopbackServer
from tests.loopback.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioServer
from workers.channels import mattermost, ntfy, teams, telegram, twilio_sms, twilio_voice
from workers.outbound import LinkConfig, retry_after_s

INC = IncidentView(
    id=7, number=1007, title="Checkout down", severity="critical", status="triggered", service="shop"
)


class Scripted(LoopbackServer):
    """Answers each request with the next scripted (status, json, headers)."""

    def __init__(self, answers: list[tuple[int, dict[str, Any], dict[str, str]]]) -> None:
        super().__init__()
        self.answers = deque(answers)

    def handle(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        return (
            self.answers.popleft() if self.answers else (200, {"ok": True, "result": {"message_id": 1}}, {})
        )


def _out(kind: str, address: str) -> Outbound:
    return Outbound(delivery_id=11, channel=kind, address=address, attempt=1, incident=INC)


def test_retry_after_reads_seconds_and_http_dates_and_is_capped() -> None:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    assert retry_after_s("7") == 7
    assert retry_after_s(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_s("86400") == 300
    assert retry_after_s("soon") is None and retry_after_s(None) is None


@pytest.mark.parametrize("module", [ntfy, teams, mattermost])
def test_webhook_channels_classify_answers(module: Any) -> None:
    answers = [
        (503, {}, {}),
        (429, {}, {"Retry-After": "4"}),
        (400, {"error": "bad"}, {}),
        (200, {"id": "m1"}, {}),
    ]
    with Scripted(answers) as server:
        config = LinkConfig(callback_base="http://slar.test", secret=SecretStr("s"))
        client = module.make_client(config)
        address = f"http://127.0.0.1:{server.port}/" + ("topic" if module is ntfy else "hook")
        first, second, third, fourth = (
            module.send(_out(module.KIND, address), config, client) for _ in range(4)
        )
    assert not first.ok and not first.permanent
    assert not second.ok and not second.permanent and second.retry_after_s == 4
    assert not third.ok and third.permanent
    assert fourth.ok


def test_links_are_left_out_without_a_callback_secret() -> None:
    with Scripted([]) as server:
        config = LinkConfig(callback_base="http://slar.test", secret=None)
        ntfy.send(_out("ntfy", f"http://127.0.0.1:{server.port}/topic"), config, ntfy.make_client(config))
        body = server.calls[0].body
    assert body["actions"] == [] and body["priority"] == 5


def test_telegram_honours_retry_after_in_parameters_and_4xx_is_final() -> None:
    answers = [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests",
                "parameters": {"retry_after": 9},
            },
            {},
        ),
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, {}),
        (502, {}, {}),
    ]
    with Scripted(answers) as server:
        config = telegram.Config(bot_token=SecretStr("1:x"), api_url=f"http://127.0.0.1:{server.port}")
        client = telegram.make_client(config)
        limited, missing, bad_gateway, ok = (
            telegram.send(_out("telegram", "42"), config, client) for _ in range(4)
        )
    assert not limited.permanent and limited.retry_after_s == 9
    assert missing.permanent and "chat not found" in (missing.error or "")
    assert not bad_gateway.permanent
    assert ok.ok and ok.provider_message_id == "42:1"


def test_twilio_5xx_is_retried_and_a_dead_number_disables_the_method() -> None:
    with TwilioServer() as server:
        config = twilio_sms.Config(
            account_sid=ACCOUNT_SID,
            auth_token=SecretStr(AUTH_TOKEN),
            from_number=FROM_NUMBER,
            api_url=server.api_url,
            callback_base="http://slar.test",
        )
        client = twilio_sms.make_client(config)
        server.fail_next.append(
            (503, {"code": 20500, "message": "down", "status": 503}, {"Retry-After": "3"})
        )
        server.fail_next.append((400, {"code": 21614, "message": "not a mobile number", "status": 400}, {}))
        unavailable = twilio_sms.send(_out("sms", "+15550000001"), config, client)
        dead = twilio_voice.send(_out("voice", "+15550000001"), config, client)
        sent = twilio_sms.send(_out("sms", "+15550000001"), config, client)
        assert httpx.get(f"{server.api_url}/nothing").status_code == 401
    assert not unavailable.permanent and unavailable.retry_after_s == 3
    assert dead.permanent and dead.disable_contact
    assert sent.ok and (sent.provider_message_id or "").startswith("SM")
