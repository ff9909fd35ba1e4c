"""No secret in any log: every SLAR process run with secrets and used with them, then its log read.

Ingest and the agent run at uvicorn's most verbose level (`trace` prints every request's headers),
so an Authorization header, a webhook token in a path, the agent WebSocket's ``?token=`` and the
configured credentials all reach a log line if nothing cuts them.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from app.directory import service as directory
from app.logredact import install, redact, redact_record
from tests import browser, infra, secret_registry
from tests import factories as f
from tests.loopback.slack import SlackServer
from tests.loopback.smtp import SmtpServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.secret_registry import register
from tests.test_alertmanager import free_port
from tests.test_slack_interactivity import _click


def test_redact_cuts_every_shape_of_secret() -> None:
    token, key = "whk_" + "A1b2" * 8, "sk_" + "Z9y8" * 8
    lines = {
        f'127.0.0.1:5 - "POST /webhooks/generic/{token} HTTP/1.1" 202': token,
        f'127.0.0.1:5 - "WebSocket /ws/abc?after=0&token={key}" [accepted]': key,
        "headers: [(b'authorization', b'Bearer opaque-credential-1234')]": "opaque-credential-1234",
        "{'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}": "dXNlcjpwYXNzd29yZA==",
        "connecting to smtp://slar:hunter2-long@mail.test:25": "hunter2-long",
        "using xoxb-1234-5678-abcdefghijkl": "xoxb-1234-5678-abcdefghijkl",
        "GET /heartbeats/hb_abcdefghijklmnop": "hb_abcdefghijklmnop",
        "model key sk-proj-abcdefghijklmnopqrst": "sk-proj-abcdefghijklmnopqrst",
    }
    for line, secret in lines.items():
        assert secret not in redact(line), line
    assert redact(f"POST /webhooks/generic/{token}").endswith("/webhooks/generic/whk_A1b2…")
    assert redact("plain text with no secret, 42 ms") == "plain text with no secret, 42 ms"
    assert redact("signing secret is s3cr3t-value here", ["s3cr3t-value"]) == "signing secret is *** here"


def test_the_record_factory_redacts_arguments_and_tracebacks() -> None:
    install()
    key = "sk_" + "Q7" * 16
    record = logging.getLogRecordFactory()(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s" %d',
        ("1.2.3.4:5", "GET", f"/x?token={key}", 200),
        None,
    )
    assert key not in record.getMessage() and record.args[-1] == 200  # ints stay ints for %d
    try:
        raise RuntimeError(f"failed calling https://api.test/?api_key={key}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    redact_record(record, [])
    assert key not in (record.exc_text or "") and "RuntimeError" in (record.exc_text or "")


def _serve(module: str, port: int, env: dict[str, str], log: Path):  # type: ignore[no-untyped-def]
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        module,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "trace",
    ]
    return infra.process(args, env, log)


@pytest.mark.slow
@pytest.mark.skipif(
    browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
)
def test_no_secret_reaches_the_log_of_any_process(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path, tmp_path: Path
) -> None:
    password = "pw-" + secrets.token_hex(8)
    Session = sessions(fresh_database)
    with Session.begin() as s:
        admin = f.user(s, role="admin", email=f"logs-{uuid.uuid4().hex[:6]}@example.test", password=password)
        paged = f.user(s, name="Paged", slack_user_id=f"UPAGED{uuid.uuid4().hex[:4].upper()}")
        directory.add_contact_method(session=s, user_id=paged.id, kind="slack", address=f"U{paged.id}")
        directory.add_contact_method(session=s, user_id=paged.id, kind="email", address="paged@example.test")
        svc = f.service(s, policy_id=f.policy_for(s, [paged], delay_minutes=30))
        _, token = f.integration(s, svc.id, "generic")
        _, api_key = directory.create_api_key(session=s, name="logs", role="admin", user_id=admin.id)
        email, slack_id = admin.email, paged.slack_user_id
    configured = {
        "SLACK_BOT_TOKEN": f"xoxb-{secrets.token_hex(6)}-{secrets.token_hex(10)}",
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "OPENAI_API_KEY": f"sk-{secrets.token_hex(20)}",
        "WEBHOOK_SECRET": secrets.token_hex(16),
    }
    smtp_password = "smtp-" + secrets.token_hex(8)
    every = [password, token, api_key, smtp_password, *configured.values()]
    register(*every)
    log_dir = output_dir / "log-secrets" / uuid.uuid4().hex[:6]
    log_dir.mkdir(parents=True, exist_ok=True)
    with SlackServer() as slack, SmtpServer() as smtp:
        env = {
            **configured,
            "SLACK_API_URL": slack.api_url,
            "SMTP_URL": smtp.url.replace("smtp://", f"smtp://slar:{smtp_password}@"),
            "SLAR_ESCALATION_MINUTE_S": "1",
            "DATA_DIR": str(tmp_path),
        }
        namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
        with worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=log_dir,
            extra_env=env,
        ) as stack:
            child = {**stack.env, "PATH": str(Path(sys.executable).parent) + ":" + stack.env.get("PATH", "")}
            ingest_port, agent_port = free_port(), free_port()
            with (
                _serve("ingest.app:app", ingest_port, child, log_dir / "ingest.log"),
                _serve("agent.service:app", agent_port, child, log_dir / "agent.log"),
                browser.console_server(fresh_database, log_dir / "console.log", extra_env=env) as console,
            ):
                ingest, agent = f"http://127.0.0.1:{ingest_port}", f"http://127.0.0.1:{agent_port}"
                infra.wait_http(ingest + "/health/live")
                infra.wait_http(agent + "/health/live", timeout=60)
                trigger = {"event_action": "trigger", "summary": "disk full", "dedup_key": "logs"}
                assert httpx.post(f"{ingest}/webhooks/generic/{token}", json=trigger).status_code == 202
                bearer = {"Authorization": f"Bearer {token}"}
                assert (
                    httpx.post(f"{ingest}/webhooks/generic", json=trigger, headers=bearer).status_code == 202
                )
                assert httpx.post(f"{ingest}/webhooks/generic/{token}x", json=trigger).status_code == 401
                post = wait_for(lambda: slack.posts(), 30, "the Slack page")[0]
                incident_id = int(json.dumps(post.body).split('"incident:')[1].split('"')[0])
                with httpx.Client(base_url=ingest) as client:
                    clicked = _click(
                        client,
                        "acknowledge",
                        incident_id,
                        slack_id,
                        secret=configured["SLACK_SIGNING_SECRET"],
                    )
                    assert clicked.status_code == 200
                auth = {"Authorization": f"Bearer {api_key}"}
                session_id = httpx.post(f"{agent}/sessions", json={}, headers=auth, timeout=30).json()["id"]
                with connect(f"ws://127.0.0.1:{agent_port}/ws/{session_id}?token={api_key}", open_timeout=30):
                    pass
                with browser.chromium_page() as page:
                    browser.sign_in(page, console, email, password)
    written = {p: p.read_text(errors="replace") for p in log_dir.rglob("*.log")}
    assert {"ingest.log", "agent.log", "workers.log", "scheduler.log", "console.log"} <= {
        p.name for p in written
    }
    assert "/ws/" in written[log_dir / "agent.log"]  # the WebSocket was logged, only its token cut
    leaks = [(p.name, s[:10]) for p, text in written.items() for s in every if s in text]
    assert leaks == []


def test_the_run_wide_check_finds_a_secret_in_a_registered_log(tmp_path: Path) -> None:
    secret, log = f"leaked-{secrets.token_hex(8)}", tmp_path / "ingest.log"
    log.write_text(f"INFO something printed {secret} by mistake\n")
    register(secret)
    secret_registry.register_log(log, ["python", "-m", "uvicorn", "ingest.app:app"])
    secret_registry.register_log(tmp_path / "alertmanager.log", ["/usr/bin/prometheus-alertmanager"])
    try:
        assert secret_registry.leaks() == [(str(log), secret[:6])]
        assert tmp_path / "alertmanager.log" not in secret_registry.LOGS  # not a SLAR process
    finally:
        # Taken back, or the run-wide check at the end of this run would report it.
        secret_registry.SECRETS.discard(secret)
        secret_registry.LOGS.discard(log)
