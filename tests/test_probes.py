"""Liveness and readiness: each process answers its probes where app.probes says; `slar health` reads them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from agent.runtime import AgentRuntime
from agent.service import create_app
from app.cli import main
from app.config import reset_settings
from app.periodic.metrics import console_registry, serve
from ingest.app import app as ingest_app
from tests.test_periodic_ticks import free_port


def test_ingest_and_agent_answer_both_probes(database_url: str, redis_env: dict[str, str]) -> None:
    with TestClient(ingest_app) as client:
        assert client.get("/health/live").json() == {"status": "ok"}
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["postgres"] == "ok"
        assert client.get("/health").status_code == 200  # the older path keeps working
    with TestClient(create_app(AgentRuntime(client_factory=lambda: None, extra_workbenches=[]))) as client:
        assert client.get("/health/live").status_code == 200
        assert client.get("/health/ready").json()["status"] == "ok"


def test_slar_health_exits_0_when_ready_and_1_when_nothing_answers(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("SLAR_SCHEDULER_METRICS_PORT", str(port))
    reset_settings()
    serve(console_registry(), port, "scheduler")
    assert main(["health", "scheduler"]) == 0
    assert main(["health", "scheduler", "--live"]) == 0
    monkeypatch.setenv("SLAR_SCHEDULER_METRICS_PORT", str(free_port()))
    assert main(["health", "scheduler"]) == 1
    assert "scheduler is not ready" in capsys.readouterr().err
    assert main(["health", "nosuch"]) == 2
    reset_settings()
