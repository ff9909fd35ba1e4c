"""A real Debian prometheus-alertmanager delivers to ingest served by uvicorn: grouping, resolution, retry."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.incidents.models import Alert, Incident, IncidentEvent
from tests import factories as f
from tests import infra

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
pytestmark = [
    pytest.mark.alertmanager,
    pytest.mark.skipif(
        not Path(ALERTMANAGER).exists(),
        reason="Debian prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"condition not met within {timeout}s")


class FlakyProxy:
    """Forwards webhooks to ingest; answers 503 to the first one even though ingest stored it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.failures_left = 1
        self.answers: list[int] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream = httpx.post(proxy.target + self.path, content=body, timeout=10)
                status = upstream.status_code
                if proxy.failures_left > 0:
                    proxy.failures_left -= 1
                    status = 503  # the answer is lost on the way back: the sender must retry
                proxy.answers.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def db(fresh_database: str) -> Iterator[Engine]:
    engine = create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


@pytest.fixture()
def ingest_url(fresh_database: str, redis_env: dict[str, str], output_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": fresh_database, **redis_env}
    args = [sys.executable, "-m", "uvicorn", "ingest.app:app", "--host", "127.0.0.1", "--port", str(port)]
    with infra.process(args, env, output_dir / "alertmanager-ingest.log"):
        url = f"http://127.0.0.1:{port}"
        infra.wait_http(url + "/health")
        yield url


def start_alertmanager(tmp: Path, webhook: str, output_dir: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    config = tmp / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: slar\n"
        "  group_by: [alertname]\n"
        "  group_wait: 1s\n"
        "  group_interval: 2s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: slar\n"
        "    webhook_configs:\n"
        f"      - url: {webhook}\n"
        "        send_resolved: true\n"
    )
    args = [
        shutil.which(ALERTMANAGER) or ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return infra.process(args, dict(os.environ), output_dir / "alertmanager.log"), f"http://127.0.0.1:{port}"


def post_alerts(am: str, alerts: list[dict[str, Any]]) -> None:
    r = httpx.post(f"{am}/api/v2/alerts", json=alerts, timeout=30)
    assert r.status_code == 200, r.text


def am_alert(name: str, instance: str, *, ends: str | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": name, "instance": instance, "severity": "critical"},
        "annotations": {"summary": f"{name} on {instance}"},
        "generatorURL": "http://prometheus.test/graph",
    }
    if ends:
        alert["endsAt"] = ends
    return alert


def incidents_of(engine: Engine, service_id: int) -> list[Incident]:
    with Session(engine) as s:
        return list(
            s.scalars(select(Incident).where(Incident.service_id == service_id).order_by(Incident.id))
        )


def test_alertmanager_groups_resolves_and_retries_into_one_incident(
    db: Engine, ingest_url: str, tmp_path: Path, output_dir: Path
) -> None:
    with Session(db) as s:
        u = f.user(s)
        svc = f.service(s, policy_id=f.policy_for(s, [u]))
        _, token = f.integration(s, svc.id, "alertmanager")
        service_id = svc.id
        s.commit()
    with FlakyProxy(ingest_url) as proxy:
        running, am = start_alertmanager(
            tmp_path, f"http://127.0.0.1:{proxy.port}/webhooks/alertmanager/{token}", output_dir
        )
        with running:
            infra.wait_http(f"{am}/-/ready")
            post_alerts(
                am, [am_alert("DiskFull", "db-1"), am_alert("DiskFull", "db-2"), am_alert("CpuHot", "web-1")]
            )
            # Two group webhooks and the retry of the one answered 503. The proxy records an answer only
            # after ingest has stored it, so wait for the answers, not only for the rows.
            wait_until(lambda: len(proxy.answers) >= 3)
            assert proxy.answers[0] == 503 and proxy.answers.count(202) >= 2
            found = wait_until(
                lambda: (
                    (incs := incidents_of(db, service_id)) and sum(i.alert_count for i in incs) == 3 and incs
                )
            )
            # One incident per Alertmanager group, each alert stored once despite the 503 and its retry.
            disk = next(i for i in found if i.alert_count == 2)
            cpu = next(i for i in found if i is not disk)
            assert cpu.alert_count == 1 and disk.severity == "critical" and disk.status == "triggered"
            with Session(db) as s:
                assert len(s.scalars(select(Alert).where(Alert.service_id == service_id)).all()) == 3
                triggered = s.scalars(
                    select(IncidentEvent).where(
                        IncidentEvent.incident_id == disk.id, IncidentEvent.kind == "triggered"
                    )
                ).all()
                assert len(triggered) == 1

            past = datetime.now(UTC).isoformat()
            post_alerts(
                am, [am_alert("DiskFull", "db-1", ends=past), am_alert("DiskFull", "db-2", ends=past)]
            )
            wait_until(lambda: {i.id: i for i in incidents_of(db, service_id)}[disk.id].status == "resolved")
            after = {i.id: i for i in incidents_of(db, service_id)}
            assert after[disk.id].resolved_by_kind == "source" and after[cpu.id].status == "triggered"
            assert len(after) == 2
    # The access log shows the token's prefix only.
    log = (output_dir / "alertmanager-ingest.log").read_text()
    assert "POST /webhooks/alertmanager/" + token[:8] in log and token not in log
