"""Shared fixtures: one fresh, migrated database per test run; savepoint sessions per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.config import reset_settings
from app.db import reset_engines
from tests import infra, secret_registry
from tests.loopback.brokers import rabbitmq_available, rabbitmq_vhost, vhost_queues


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The run's own database, created fresh and migrated to head, dropped at the end."""
    url = infra.create_database()
    os.environ["DATABASE_URL"] = url
    reset_settings()
    reset_engines()
    yield url
    reset_engines()
    infra.drop_database(url)


@pytest.fixture(scope="session")
def redis_env() -> Iterator[dict[str, str]]:
    """Redis URL and a namespace unique to this run (Dramatiq keys and our own live under it)."""
    import redis

    url = infra.redis_url()
    namespace = f"slar-test-{uuid.uuid4().hex[:8]}"
    os.environ["REDIS_URL"] = url
    os.environ["REDIS_NAMESPACE"] = namespace
    reset_settings()
    yield {"REDIS_URL": url, "REDIS_NAMESPACE": namespace}
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)


@pytest.fixture()
def broker_kind() -> str:
    """The Dramatiq broker of worker tests; `parametrize("broker_kind", [..., "rabbitmq"])` adds RabbitMQ."""
    return "redis"


@pytest.fixture()
def broker_url(broker_kind: str) -> Iterator[str | None]:
    """BROKER_URL for the workers under test: None (REDIS_URL's Redis) or a RabbitMQ vhost of their own."""
    if broker_kind == "redis":
        yield None
        return
    why_not = rabbitmq_available()
    if why_not:
        pytest.skip(why_not)
    with rabbitmq_vhost() as url:
        yield url
        # The workers really consumed from RabbitMQ (a Redis fallback would leave the vhost empty).
        assert {"escalation", "notify"} <= vhost_queues(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield eng
    eng.dispose()


@pytest.fixture()
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (savepoint mode)."""
    conn = engine.connect()
    outer = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        conn.close()


@pytest.fixture()
def fresh_database() -> Iterator[str]:
    """A database of its own, for tests whose other processes must see committed data."""
    url = infra.create_database()
    yield url
    infra.drop_database(url)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where a run saves artefacts (screenshots, logs): test-output/<run>."""
    path = infra.ROOT / "test-output" / os.environ.get("SLAR_TEST_RUN", "latest")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _leak_reports() -> Path:
    return infra.ROOT / "test-output" / os.environ.get("SLAR_TEST_RUN", "latest") / "secret-leaks"


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the run's first process: no report is stale
        for old in _leak_reports().glob("*.txt"):
            old.unlink()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any secret the suite created is in a log one of its SLAR processes wrote.

    Under pytest-xdist each worker checks the secrets and logs of its own tests and reports what
    it found to the controller through a file, since only the controller's exit status counts.
    """
    leaks = [f"  {path}: a secret starting {prefix!r}" for path, prefix in secret_registry.leaks()]
    reports = _leak_reports()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        if leaks:
            reports.mkdir(parents=True, exist_ok=True)
            (reports / f"{worker}.txt").write_text("\n".join(leaks) + "\n")
        return
    for report in sorted(reports.glob("*.txt")):
        leaks += report.read_text().splitlines()
    if leaks:
        lines = "\n".join(leaks)
        session.config.get_terminal_writer().line(f"\nSECRETS IN PROCESS LOGS:\n{lines}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
