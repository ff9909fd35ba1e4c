"""The `slar` command line in a real subprocess against a database of its own."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic.script import ScriptDirectory

from app.cli import main
from app.config import Settings
from app.embedded import free_port
from app.supervisor import PROCESSES, command_for
from tests import infra

SLAR = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    """A migrated database for this module: the CLI commits, so it must not share the run's."""
    url = infra.create_database()
    yield url
    infra.drop_database(url)


def slar(*args: str, db: str | None, cwd: Path = infra.ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SLAR_DATABASE_URL")}
    if db is not None:
        environ["DATABASE_URL"] = db
    environ.update(env)
    return subprocess.run([*SLAR, *args], env=environ, cwd=cwd, capture_output=True, text=True, timeout=120)


def one_json_line(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def scalar(url: str, sql: str, *params: object) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def test_setup_commands_create_and_print_one_json_line(db: str) -> None:
    team = one_json_line(slar("team", "create", "Storage", "--slack-channel", "#storage", "--json", db=db))
    assert team["name"] == "Storage" and team["slack_channel"] == "#storage"

    user = one_json_line(
        slar(
            "user", "create", "--email", "Ada@Example.org", "--name", "Ada", "--tz", "Asia/Kolkata",
            "--role", "admin", "--password", "correct horse", "--team", "Storage", "--team-role", "lead",
            "--json", db=db,
        )
    )  # fmt: skip
    assert user["email"] == "ada@example.org" and user["time_zone"] == "Asia/Kolkata"
    assert "password_hash" not in user
    role = scalar(db, "SELECT role FROM team_memberships WHERE user_id = %s", user["id"])
    assert role == "lead"

    service = one_json_line(
        slar("service", "create", "blob-store", "--team", str(team["id"]), "--json", db=db)
    )
    assert service["team_id"] == team["id"]

    integ = one_json_line(
        slar(
            "integration", "create", "--service", "blob-store", "--kind", "alertmanager", "--name", "prom",
            "--json", db=db, SLAR_PUBLIC_URL="https://alerts.example.org",
        )
    )  # fmt: skip
    token = integ["token"]
    assert integ["url"] == f"https://alerts.example.org/webhooks/alertmanager/{token}"
    assert integ["service_id"] == service["id"] and "token_hash" not in integ
    # Only the hash is stored: the raw token appears nowhere in the row.
    stored = scalar(db, "SELECT token_hash FROM integrations WHERE id = %s", integ["id"])
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    row_text = scalar(db, "SELECT row_to_json(i)::text FROM integrations i WHERE id = %s", integ["id"])
    assert token not in str(row_text)


def test_integration_without_json_prints_url_and_token_once(db: str) -> None:
    one_json_line(slar("service", "create", "printer", "--json", db=db))
    proc = slar("integration", "create", "--service", "printer", "--kind", "generic", "--name", "x", db=db)
    assert proc.returncode == 0, proc.stderr
    url_line = next(line for line in proc.stdout.splitlines() if "/webhooks/generic/" in line)
    token = url_line.rsplit("/", 1)[1]
    assert proc.stdout.count(token) == 2  # in the URL and on its own line, and never again


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["user", "create", "--email", "a@b.c", "--name", "A", "--tz", "Mars/Olympus"], "time_zone"),
        (["user", "create", "--email", "a@b.c", "--name", "A", "--role", "owner"], "role"),
        (["user", "create", "--email", "not-an-email", "--name", "A"], "email"),
        (["user", "create", "--email", "a@b.c"], "--name"),
        (["user", "create", "--email", "b@b.c", "--name", "B", "--password", "short"], "password"),
        (["team", "create", "  "], "name"),
        (["integration", "create", "--service", "nope", "--kind", "generic", "--name", "x"], "service"),
        (["serve", "teapot"], "process"),
        (["serve", "console", "--port", "70000"], "--port"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_wrong_argument_exits_nonzero_with_one_line(db: str, args: list[str], expected: str) -> None:
    proc = slar(*args, db=db)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_refused_command_leaves_nothing_half_written(db: str) -> None:
    proc = slar("user", "create", "--email", "half@example.org", "--name", "Half", "--team", "no-such", db=db)
    assert proc.returncode == 2 and "team" in proc.stderr
    assert scalar(db, "SELECT count(*) FROM users WHERE email = 'half@example.org'") == 0


def test_duplicate_is_a_conflict_line(db: str) -> None:
    one_json_line(slar("team", "create", "Twice", "--json", db=db))
    proc = slar("team", "create", "Twice", db=db)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "slar: error: a team named Twice already exists"


def test_wrong_setting_is_named(db: str) -> None:
    proc = slar("migrate", db="mysql://localhost/x")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "DATABASE_URL" in proc.stderr


def test_missing_database_url_is_one_line() -> None:
    proc = slar("team", "create", "Nowhere", db=None)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "DATABASE_URL" in proc.stderr


def test_migrate_from_any_directory_is_idempotent(db: str, tmp_path: Path) -> None:
    head = ScriptDirectory.from_config(infra.alembic_config(db)).get_current_head()
    for _ in range(2):
        proc = slar("migrate", db=db, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"database is at revision {head}"
    assert scalar(db, "SELECT version_num FROM alembic_version") == head


def test_seed_refuses_a_database_with_users(db: str) -> None:
    one_json_line(
        slar("user", "create", "--email", "someone@example.org", "--name", "Someone", "--json", db=db)
    )
    teams_before = scalar(db, "SELECT count(*) FROM teams")
    proc = slar("seed-demo", "--days", "1", db=db)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "--force" in proc.stderr
    assert scalar(db, "SELECT count(*) FROM teams") == teams_before


def test_serve_command_lines_bind_where_asked() -> None:
    settings = Settings(SLAR_INGEST_PORT=9123, SLAR_HOST="127.0.0.2")
    ingest = command_for("ingest", settings)
    assert ingest[-4:] == ["--host", "127.0.0.2", "--port", "9123"] and "ingest.app:app" in ingest
    console = command_for("console", settings, host="0.0.0.0", port=8600)
    assert console[console.index("--server.port") + 1] == "8600"
    assert console[console.index("--server.address") + 1] == "0.0.0.0"
    assert "workers.actors" in command_for("workers", settings)
    assert set(PROCESSES) == {"ingest", "workers", "scheduler", "agent", "console", "smtp"}


def test_serve_runs_ingest_in_the_foreground(db: str, redis_env: dict[str, str], output_dir: Path) -> None:
    if not PROCESSES["ingest"].available:
        pytest.skip("ingest is not built")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db, **redis_env}
    argv = [*SLAR, "serve", "ingest", "--host", "127.0.0.1", "--port", str(port)]
    with infra.process(argv, env, output_dir / "slar-serve-ingest.log") as proc:
        infra.wait_http(f"http://127.0.0.1:{port}/health", timeout=120)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200
        assert proc.poll() is None
    assert proc.returncode is not None


def test_serve_a_process_that_is_not_built_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ghost = dataclasses.replace(PROCESSES["agent"], entry="agent/not_built_yet.py")
    monkeypatch.setitem(PROCESSES, "agent", ghost)
    assert main(["serve", "agent"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "slar: error: process agent is not available: agent/not_built_yet.py does not exist"
