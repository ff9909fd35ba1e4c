"""Test infrastructure: a fresh database per run (server Postgres if reachable, else embedded),
Redis isolated by a key namespace, and helpers to start real processes on loopback."""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config

from app.embedded import start_postgres, start_redis, tcp_reachable
from tests import secret_registry

ROOT = Path(__file__).resolve().parent.parent
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
_embedded: dict[str, object] = {}


def admin_url() -> str:
    """A URL of the server's maintenance database, on which databases are created and dropped."""
    if tcp_reachable(PG_HOST, PG_PORT):
        return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"
    if "pg" not in _embedded:
        url, server = start_postgres(Path(os.environ.get("SLAR_TEST_DATA", "/tmp/slar-test-embedded")))
        _embedded["pg"] = server
        _embedded["pg_url"] = url
    return str(_embedded["pg_url"])


def redis_url() -> str:
    if tcp_reachable(REDIS_HOST, REDIS_PORT):
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    if "redis" not in _embedded:
        url, client = start_redis(Path(os.environ.get("SLAR_TEST_DATA", "/tmp/slar-test-embedded")))
        _embedded["redis"] = client
        _embedded["redis_url"] = url
    return str(_embedded["redis_url"])


def db_url_for(admin: str, name: str) -> str:
    """Swap the database name in a postgresql:// URL (keeps a ?host=/socket query)."""
    base, _, query = admin.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return cfg


def create_database(migrate: bool = True) -> str:
    """Create a fresh, uniquely named database and (by default) migrate it to head.

    A migrated database is a copy of a template migrated once per process: copying takes about a
    third of the time of running every migration, and the suite makes one for each of its
    many multi-process tests.
    """
    admin = admin_url()
    name = f"slar_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_migrated_template(admin)}"' if migrate else ""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    return db_url_for(admin, name)


def _migrated_template(admin: str) -> str:
    """The name of this process's template database, migrated to head (created on first use)."""
    if "template" not in _embedded:
        name = f"slar_template_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = db_url_for(admin, name)
        command.upgrade(alembic_config(url), "head")  # NullPool: no connection to it is left open
        _embedded["template"] = name
        atexit.register(_drop_at_exit, url)
    return str(_embedded["template"])


def _drop_at_exit(url: str) -> None:
    # The embedded server may already be gone: its data directory goes with it.
    with contextlib.suppress(psycopg.Error):
        drop_database(url)


def drop_database(url: str) -> None:
    name = url.partition("?")[0].rpartition("/")[2]
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Wait until an HTTP endpoint answers (any status)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a real child process for the duration of a block; its output goes to a log file."""
    secret_registry.register_env(env)
    secret_registry.register_log(log, args)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
