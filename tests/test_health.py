"""Liveness and readiness of the HTTP processes, as a load balancer sees them, on real processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
from sqlalchemy import select

from app.db import session_scope
from app.incidents.models import Alert
from tests import factories as f
from tests import infra
from tests.test_alertmanager import free_port

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _serve(app: str, env: dict[str, str], log: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    return infra.process(args, {**os.environ, **env}, log), f"http://127.0.0.1:{port}"


def test_ingest_stays_ready_and_stores_webhooks_while_redis_is_down(
    database_url: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    with session_scope() as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        _, token = f.integration(s, svc.id, "generic")
        service_id = svc.id
    running, url = _serve("ingest.app:app", {"REDIS_URL": DEAD_REDIS}, output_dir / "health-ingest.log")
    with running:
        infra.wait_http(url + "/health/live")
        assert httpx.get(url + "/health/live").json() == {"status": "ok"}
        for path in ("/health/ready", "/health"):
            ready = httpx.get(url + path, timeout=10)
            assert ready.status_code == 200, path
            assert ready.json() == {"status": "ok", "postgres": "ok", "redis": "down"}
        stored = httpx.post(
            f"{url}/webhooks/generic/{token}",
            json={"event_action": "trigger", "summary": "disk full", "dedup_key": "health"},
            timeout=20,
        )
        assert stored.status_code == 202, stored.text
    with session_scope() as s:
        assert s.scalar(select(Alert.summary).where(Alert.service_id == service_id)) == "disk full"


def test_ingest_is_not_ready_without_postgres_but_stays_live(
    redis_env: dict[str, str], output_dir: Path
) -> None:
    dead_db = f"postgresql://postgres@127.0.0.1:{free_port()}/gone"
    running, url = _serve("ingest.app:app", {"DATABASE_URL": dead_db}, output_dir / "health-ingest-nodb.log")
    with running:
        infra.wait_http(url + "/health/live")
        assert httpx.get(url + "/health/live").status_code == 200
        ready = httpx.get(url + "/health/ready", timeout=10)
        assert (
            ready.status_code == 503 and ready.json()["postgres"] == "down" and ready.json()["redis"] == "ok"
        )


def test_the_agent_service_has_liveness_and_readiness(
    fresh_database: str, tmp_path: Path, output_dir: Path
) -> None:
    env = {"DATABASE_URL": fresh_database, "DATA_DIR": str(tmp_path), "REDIS_URL": DEAD_REDIS}
    running, url = _serve("agent.service:app", env, output_dir / "health-agent.log")
    with running:
        infra.wait_http(url + "/health/live", timeout=60)
        assert httpx.get(url + "/health/live").json() == {"status": "ok"}
        ready = httpx.get(url + "/health/ready", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["postgres"] == "ok" and ready.json()["redis"] == "down"
