"""Pooled connections are not pinged before use: one Postgres dropped is retried, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app.db import get_engine
from app.incidents.models import Alert
from ingest.app import app
from tests.test_ingest_app import count, make_integration, payload


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _terminate_pooled(database_url: str) -> int:
    """End, from outside, every other session of the test database (what a Postgres restart does)."""
    admin = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    return int(ended)


def test_a_webhook_after_postgres_dropped_the_pool_is_stored_and_202(
    client: TestClient, database_url: str, engine: Engine
) -> None:
    integ_id, token = make_integration("alertmanager")
    first = client.post(f"/webhooks/alertmanager/{token}", content=payload("alertmanager/firing.json"))
    assert first.status_code == 202, first.text
    assert get_engine().pool.checkedin() >= 1  # the pool holds a connection that is about to die
    assert _terminate_pooled(database_url) >= 1
    engine.dispose()  # the suite's own pooled connections were ended too: later tests open new ones
    resolved = client.post(f"/webhooks/alertmanager/{token}", content=payload("alertmanager/resolved.json"))
    assert resolved.status_code == 202, resolved.text
    assert resolved.json()["incidents"] == first.json()["incidents"]
    assert count(Alert, Alert.integration_id == integ_id, Alert.status == "resolved") == 2
