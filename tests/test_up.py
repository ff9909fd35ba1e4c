"""`slar up` end to end: embedded PostgreSQL and Redis, every built process answering, a clean stop."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

import app.models  # noqa: F401
from app.config import reset_settings
from app.db import reset_engines, session_scope
from app.directory import service as directory
from app.embedded import free_port
from app.supervisor import PROCESSES, Supervisor, _seed_if_empty, without_secret
from tests import infra

READY_TIMEOUT = 240.0  # embedded initdb, migrations, a small seed and Streamlit's start on a busy machine


@pytest.fixture()
def data_dir() -> Iterator[Path]:
    # Under /tmp and world-readable: as root, pgserver runs postgres as its own system user.
    path = Path(tempfile.mkdtemp(prefix="slar-up-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(data_dir: Path) -> dict[str, str]:
    unset = {"DATABASE_URL", "REDIS_URL", "SLAR_DATABASE_URL", "SLAR_REDIS_URL", "REDIS_NAMESPACE"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        SLAR_DATA_DIR=str(data_dir),
        SLAR_INGEST_PORT=str(free_port()),
        SLAR_AGENT_PORT=str(free_port()),
        SLAR_CONSOLE_PORT=str(free_port()),
        SLAR_HOST="127.0.0.1",
    )
    return env


def _urls(env: dict[str, str]) -> dict[str, str]:
    ports = {"ingest": "SLAR_INGEST_PORT", "agent": "SLAR_AGENT_PORT", "console": "SLAR_CONSOLE_PORT"}
    return {
        name: f"http://127.0.0.1:{env[ports[name]]}{PROCESSES[name].health_path}"
        for name in ports
        if PROCESSES[name].available
    }


def _wait_answer(url: str, up: subprocess.Popen[bytes], log: Path, deadline: float) -> int:
    while time.monotonic() < deadline:
        assert up.poll() is None, f"slar up exited early:\n{log.read_text()[-4000:]}"
        try:
            return httpx.get(url, timeout=2.0).status_code
        except httpx.HTTPError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()[-4000:]}")


def _holding(data_dir: Path) -> list[psutil.Process]:
    """Processes still using the data directory (embedded postgres and redis)."""
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(data_dir) in part for part in proc.info["cmdline"] or []):
                out.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def test_up_runs_every_process_on_embedded_services_and_stops_them_all(
    data_dir: Path, output_dir: Path
) -> None:
    env = _env(data_dir)
    log = output_dir / "slar-up.log"
    argv = [
        sys.executable,
        "-c",
        "import sys; from app.cli import main; sys.exit(main())",
        "up",
        "--demo-days",
        "2",
    ]
    with open(log, "wb") as out:
        up = subprocess.Popen(
            argv, env=env, cwd=infra.ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        urls = _urls(env)
        for name, url in urls.items():
            assert _wait_answer(url, up, log, deadline) < 500, name
        # The supervisor polls on its own clock: it may say "is up" a moment after we got an answer.
        bases = [u.removesuffix("/_stcore/health").removesuffix("/health") for u in urls.values()]
        wanted = [f"is up: {base}" for base in bases]
        while time.monotonic() < deadline and not all(w in log.read_text() for w in wanted):
            time.sleep(0.5)
        children = psutil.Process(up.pid).children(recursive=True)
        text = log.read_text()
        assert "embedded PostgreSQL" in text and "embedded Redis" in text
        assert "seeded: teams=3" in text
        # Demo people are reached by push and Slack, neither configured here: said once, on start.
        assert "channels not configured, pages by email, push, slack" in text
        for name in (n for n, spec in PROCESSES.items() if spec.available):
            assert f"started {name}" in text
        for line in wanted:
            # The supervisor prints where each process answers, without its health-check path.
            assert line in text
        # Where the CLI can be pointed (no password in the log), and no periodic-job chatter.
        assert "DATABASE_URL=postgresql://" in text and "REDIS_URL=unix://" in text
        assert "Running job" not in text and "executed successfully" not in text
        assert _holding(data_dir), "the embedded servers should be running under the data directory"
    finally:
        if up.poll() is None:
            os.kill(up.pid, signal.SIGTERM)
        try:
            code = up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
    assert code == 0, log.read_text()[-4000:]
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], [p.pid for p in alive]
    assert _holding(data_dir) == []
    assert "all processes stopped" in log.read_text()


def test_supervisor_reports_a_crash_and_stops_whole_process_groups() -> None:
    out = io.StringIO()
    sup = Supervisor(out=out)
    env = dict(os.environ)
    sup.start("sleeper", [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"], env)
    sup.start("crasher", [sys.executable, "-c", "import sys; print('bye'); sys.exit(3)"], env)
    # A shell whose own child would outlive a plain kill of the shell: the group must go.
    sup.start("parent", ["bash", "-c", "sleep 120 & wait"], env)
    try:
        deadline = time.monotonic() + 60
        while "crasher exited with code 3" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.1)
        while len(psutil.Process(sup.children["parent"].pid).children()) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        grandchildren = psutil.Process(sup.children["parent"].pid).children(recursive=True)
        text = out.getvalue()
        assert "crasher exited with code 3" in text and " crasher | bye" in text
        assert sup.children["sleeper"].poll() is None  # the others keep running
    finally:
        sup.stop(grace=10)
    assert all(p.poll() is not None for p in sup.children.values())
    gone, alive = psutil.wait_procs(grandchildren, timeout=10)
    assert grandchildren and alive == []
    assert "all processes stopped" in out.getvalue()


def test_up_seeds_only_a_database_without_users() -> None:
    url = infra.create_database()
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    reset_settings()
    reset_engines()
    try:
        with session_scope() as session:
            directory.create_user(session=session, email="first@example.org", name="First")
        out = io.StringIO()
        _seed_if_empty(Supervisor(out=out), demo_days=1)
        assert "database has users: demo data not seeded" in out.getvalue()
        with session_scope() as session:
            assert directory.list_teams(session=session) == []
    finally:
        # Put the run's settings back as they were, for the tests that follow in this process.
        reset_engines()
        if previous is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = previous
        reset_settings()
        infra.drop_database(url)


def test_service_urls_are_printed_without_their_password() -> None:
    assert without_secret("postgresql://slar:s3cret@db:5432/slar") == "postgresql://slar:***@db:5432/slar"
    assert without_secret("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    embedded = "postgresql://postgres:@/postgres?host=/data/pg"
    assert without_secret(embedded) == embedded  # nothing secret: printed as is, ready to paste
