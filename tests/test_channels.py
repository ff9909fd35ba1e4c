"""Each channel against a loopback server speaking its provider's protocol."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.notifications.channels import CONFIGURED
from app.notifications.logic import IncidentView, Outbound
from app.notifications.models import CONTACT_KINDS
from tests.loopback.fcm import FcmServer, write_credentials
from tests.loopback.slack import SlackServer
from tests.loopback.smtp import SmtpServer
from workers.channels import CHANNELS, email, push, slack, webhook

INC = IncidentView(
    id=7,
    number=42,
    title="Disk full on db-1",
    severity="critical",
    status="triggered",
    service="payments",
    summary="/var at 99%",
    url="http://slar.test/incidents?id=7",
    links=[{"url": "http://grafana/d/1", "text": "Grafana"}],
)


def _out(channel: str, address: str, **kw: Any) -> Outbound:
    return Outbound(delivery_id=1, channel=channel, address=address, attempt=1, incident=INC, **kw)


def test_registry_lists_every_channel_module() -> None:
    modules = {p.stem for p in (Path(__file__).parent.parent / "workers" / "channels").glob("*.py")}
    assert {m.__name__.rsplit(".", 1)[1] for m in CHANNELS.values()} == modules - {"__init__"}
    assert set(CHANNELS) == set(CONTACT_KINDS) == set(CONFIGURED)
    for kind, module in CHANNELS.items():
        assert kind == module.KIND and callable(module.send) and callable(module.config_from)


def test_slack_posts_blocks_with_buttons_and_updates_without_them() -> None:
    with SlackServer() as server:
        cfg = slack.Config(bot_token=SecretStr("xoxb-test"), api_url=server.api_url)
        client = slack.make_client(cfg)
        result = slack.send(_out("slack", "U123"), cfg, client)
        assert result.ok and result.provider_message_id is not None
        assert result.provider_message_id.startswith("D123:")
        (post,) = server.posts()
        assert post.headers["authorization"] == "Bearer xoxb-test"
        actions = [b for b in post.body["blocks"] if b["type"] == "actions"][0]
        assert [e["action_id"] for e in actions["elements"]] == ["acknowledge", "resolve", "escalate"]
        assert "Grafana" in json.dumps(post.body["blocks"])
        acked = IncidentView(**{**INC.__dict__, "status": "acknowledged"})
        assert slack.update(result.provider_message_id, acked, client)
        (upd,) = server.updates()
        assert upd.body["channel"] == "D123" and not [b for b in upd.body["blocks"] if b["type"] == "actions"]


def test_slack_permanent_and_transient_errors() -> None:
    with SlackServer() as server:
        server.fail_with = {"C404": "channel_not_found", "C429": "ratelimited"}
        cfg = slack.Config(bot_token=SecretStr("xoxb-test"), api_url=server.api_url)
        client = slack.make_client(cfg)
        gone = slack.send(_out("slack", "C404"), cfg, client)
        assert not gone.ok and gone.permanent
        busy = slack.send(_out("slack", "C429"), cfg, client)
        assert not busy.ok and not busy.permanent


def test_push_sends_fcm_v1_message_and_flags_unregistered_tokens(tmp_path: Path) -> None:
    with FcmServer() as server:
        creds = write_credentials(tmp_path / "sa.json", token_uri=f"{server.url}/token")
        cfg = push.Config(credentials_path=str(creds), endpoint=server.url)
        client = push.make_client(cfg)
        ok = push.send(_out("push", "device-1"), cfg, client)
        assert ok.ok and ok.provider_message_id == "projects/slar-test/messages/1"
        (sent,) = server.sends()
        message = sent.body["message"]
        assert message["token"] == "device-1" and message["android"]["priority"] == "high"
        assert message["data"]["incident_id"] == "7" and "Disk full" in message["notification"]["title"]
        server.unregistered.add("device-2")
        dead = push.send(_out("push", "device-2"), cfg, client)
        assert not dead.ok and dead.permanent and dead.disable_contact
        server.unavailable_times = 1
        busy = push.send(_out("push", "device-1"), cfg, client)
        assert not busy.ok and not busy.permanent and not busy.disable_contact


def test_push_bundled_notice_says_more_are_waiting(tmp_path: Path) -> None:
    with FcmServer() as server:
        cfg = push.Config(
            credentials_path=str(write_credentials(tmp_path / "sa.json", f"{server.url}/token")),
            endpoint=server.url,
        )
        assert push.send(_out("push", "device-1", bundled=True), cfg, push.make_client(cfg)).ok
        assert "More SLAR pages" in server.sends()[0].body["message"]["notification"]["title"]


def test_email_goes_through_smtp_and_refused_recipient_is_final() -> None:
    with SmtpServer() as smtp:
        smtp.recorder.refuse.add("nobody@example.test")
        cfg = email.config_from(type("S", (), {"smtp_url": smtp.url, "smtp_from": "pager@slar.test"})())
        result = email.send(_out("email", "oncall@example.test"), cfg, email.make_client(cfg))
        assert result.ok
        (msg,) = smtp.messages
        assert msg["To"] == "oncall@example.test" and "#42" in msg["Subject"]
        assert "/var at 99%" in msg.get_payload()
        refused = email.send(_out("email", "nobody@example.test"), cfg, email.make_client(cfg))
        assert not refused.ok and refused.permanent


class _Receiver(BaseHTTPRequestHandler):
    got: list[tuple[bytes, dict[str, str]]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.got.append((body, dict(self.headers)))
        self.send_response(_Receiver.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def receiver() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.got, _Receiver.status = [], 200
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_webhook_is_signed_with_hmac_sha256(receiver: str) -> None:
    cfg = webhook.Config(secret=SecretStr("s3cret"))
    client = webhook.make_client(cfg)
    assert webhook.send(_out("webhook", receiver), cfg, client).ok
    body, headers = _Receiver.got[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-SLAR-Signature"] == expected
    assert json.loads(body)["incident"]["number"] == 42
    _Receiver.status = 410
    gone = webhook.send(_out("webhook", receiver), cfg, client)
    assert not gone.ok and gone.permanent
    _Receiver.status = 503
    busy = webhook.send(_out("webhook", receiver), cfg, client)
    assert not busy.ok and not busy.permanent


def test_slack_finds_a_page_an_interrupted_attempt_already_posted() -> None:
    from datetime import UTC, datetime, timedelta

    with SlackServer() as server:
        cfg = slack.Config(bot_token=SecretStr("xoxb-test"), api_url=server.api_url)
        client = slack.make_client(cfg)
        since = datetime.now(UTC) - timedelta(seconds=5)
        first = slack.send(_out("slack", "U9"), cfg, client)
        resumed = Outbound(
            delivery_id=1, channel="slack", address="U9", attempt=2, incident=INC, resumed=True, since=since
        )
        found = slack.find_sent(resumed, cfg, client)
        assert found is not None and found.provider_message_id == first.provider_message_id
        other = Outbound(
            delivery_id=2, channel="slack", address="U9", attempt=2, incident=INC, resumed=True, since=since
        )
        assert slack.find_sent(other, cfg, client) is None
