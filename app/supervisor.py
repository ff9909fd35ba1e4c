"""The product's processes, how to run each one, and the `slar up` supervisor that runs them all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from app.config import Settings, get_settings, reset_settings
from app.db import reset_engines, session_scope
from app.embedded import child_env, ensure_services
from app.notifications.reach import kinds_in_use, unconfigured_summary

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProcessSpec:
    """One product process: the file that must exist for it to run, and its command line."""

    name: str
    entry: str  # path relative to the repository root; absent means the process is not built yet
    argv: Callable[[str, int], list[str]]
    port_setting: str | None = None  # the Settings field holding its default port
    health_path: str | None = None  # what `slar up` polls and prints; None for non-HTTP processes

    @property
    def available(self) -> bool:
        return (ROOT / self.entry).is_file()

    def port(self, settings: Settings) -> int:
        return int(getattr(settings, self.port_setting)) if self.port_setting else 0


def _uvicorn(app_path: str) -> Callable[[str, int], list[str]]:
    def argv(host: str, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app_path,
            "--app-dir",
            str(ROOT),
            "--host",
            host,
            "--port",
            str(port),
        ]

    return argv


def _workers(host: str, port: int) -> list[str]:
    # Without --queues Dramatiq consumes every queue the actor modules declare.
    return [sys.executable, "-m", "dramatiq", "workers.actors", "--processes", "1", "--threads", "8"]


def _scheduler(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "workers.scheduler"]


def _smtp(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "ingest.smtp", "--host", host, "--port", str(port)]


def _console(host: str, port: int) -> list[str]:
    # Streamlit's own command line, run by a wrapper that pre-imports the pages' heavy modules.
    return [
        sys.executable,
        str(ROOT / "app" / "console_process.py"),
        "run",
        str(ROOT / "app" / "web.py"),
        "--server.headless",
        "true",
        # Streamlit's developer chrome (Deploy, Rerun, Clear cache) is not for responders.
        "--client.toolbarMode",
        "minimal",
        "--browser.gatherUsageStats",
        "false",
        "--server.address",
        host,
        "--server.port",
        str(port),
    ]


PROCESSES: dict[str, ProcessSpec] = {
    spec.name: spec
    for spec in (
        ProcessSpec("ingest", "ingest/app.py", _uvicorn("ingest.app:app"), "ingest_port", "/health"),
        ProcessSpec("workers", "workers/actors.py", _workers),
        ProcessSpec("scheduler", "workers/scheduler.py", _scheduler),
        ProcessSpec("agent", "agent/service.py", _uvicorn("agent.service:app"), "agent_port", "/health"),
        ProcessSpec("console", "app/web.py", _console, "console_port", "/_stcore/health"),
        ProcessSpec("smtp", "ingest/smtp.py", _smtp, "inbound_smtp_port"),
    )
}


def command_for(name: str, settings: Settings, host: str | None = None, port: int | None = None) -> list[str]:
    """The command line of one process, bound to host/port (settings give the defaults)."""
    spec = PROCESSES[name]
    return spec.argv(host or settings.host, port or spec.port(settings))


def base_url_of(name: str, settings: Settings) -> str:
    """Where a person (or a sender) reaches an HTTP process."""
    if name == "console":
        return settings.console_url
    return f"http://{settings.host}:{PROCESSES[name].port(settings)}"


def without_secret(url: str) -> str:
    """A service URL safe to print: the password (if any) replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def url_of(name: str, settings: Settings) -> str | None:
    """Where an HTTP process answers its health check, or None for a background process."""
    spec = PROCESSES[name]
    if spec.health_path is None:
        return None
    return f"http://{settings.host}:{spec.port(settings)}{spec.health_path}"


class Supervisor:
    """Runs child processes, prefixes and streams their output, and stops them all together."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.stopping = threading.Event()

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{name:>9} | {line}\n")
            self.out.flush()

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        # A session of its own: a terminal's Ctrl-C reaches us only, and we stop the whole group.
        proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children[name] = proc
        thread = threading.Thread(target=self._pump, args=(name, proc), daemon=True)
        thread.start()
        self._threads.append(thread)
        self.say("slar", f"started {name} (pid {proc.pid})")

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.say(name, raw.decode(errors="replace").rstrip())
        code = proc.wait()
        if not self.stopping.is_set():
            self.say("slar", f"{name} exited with code {code}")

    def wait(self, poll: float = 0.5) -> None:
        """Block until asked to stop (SIGINT/SIGTERM) or every child has exited."""
        while not self.stopping.is_set():
            if self.children and all(p.poll() is not None for p in self.children.values()):
                self.say("slar", "every process has exited")
                return
            self.stopping.wait(poll)

    def stop(self, grace: float = 10.0) -> None:
        """Terminate every child's process group; kill what is still alive after the grace period."""
        self.stopping.set()
        for proc in self.children.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for proc in self.children.values():
            # Whatever of a group outlived its leader (a worker that ignores SIGTERM) goes too.
            _signal_group(proc, signal.SIGKILL)
        for thread in self._threads:
            thread.join(timeout=2)
        self.say("slar", "all processes stopped")


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def install_stop_handlers(sup: Supervisor) -> None:
    """Ctrl-C and SIGTERM end the wait loop; stopping happens on the main thread afterwards."""

    def handler(signum: int, frame: object) -> None:
        sup.stopping.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def available(names: Iterable[str] | None = None) -> list[str]:
    """The processes whose code exists, in start order."""
    return [n for n in (names or PROCESSES) if PROCESSES[n].available]


def _wait_ready(sup: Supervisor, urls: dict[str, str], timeout: float = 180.0) -> None:
    """Print each HTTP process's URL once it answers (any status), so `slar up` says when it is usable."""
    import httpx  # heavy: loaded only by `slar up`

    pending = dict(urls)
    deadline = time.monotonic() + timeout
    while pending and not sup.stopping.is_set() and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            try:
                httpx.get(url, timeout=1.0)
            except httpx.HTTPError:
                continue
            sup.say("slar", f"{name} is up: {url.removesuffix(PROCESSES[name].health_path or '')}")
            del pending[name]
        sup.stopping.wait(0.5)
    for name, url in pending.items():
        if not sup.stopping.is_set():
            sup.say("slar", f"{name} did not answer at {url} within {timeout:.0f}s")


def run_up(*, demo_days: int, migrate: Callable[[], str]) -> int:
    """Embedded services if needed, migrate, seed an empty database, run every process; 0 on a clean stop."""
    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    sup = Supervisor()
    # Until the children run, SIGTERM interrupts like Ctrl-C so the embedded servers still stop.
    signal.signal(signal.SIGTERM, _interrupt)
    embedded = None
    try:
        embedded = ensure_services(data_dir, settings.database_url, settings.redis_url)
        urls = {"DATABASE_URL": str(embedded.database_url), "REDIS_URL": str(embedded.redis_url)}
        if not settings.database_url:
            sup.say("slar", f"embedded PostgreSQL under {data_dir / 'pg'}")
        if not settings.redis_url:
            sup.say("slar", f"embedded Redis under {data_dir / 'redis'}")
        # Children inherit the environment: publish the resolved URLs there, then re-read settings.
        os.environ.update(urls)
        reset_settings()
        reset_engines()
        # So `slar` commands in another terminal can be pointed at the very same services.
        sup.say("slar", f"DATABASE_URL={without_secret(urls['DATABASE_URL'])}")
        sup.say("slar", f"REDIS_URL={without_secret(urls['REDIS_URL'])}")
        sup.say("slar", f"database at revision {migrate()}")
        _seed_if_empty(sup, demo_days)
        _say_unconfigured(sup)
        reset_engines()  # no pooled connection of ours should outlive the seeding
        install_stop_handlers(sup)
        _start_all(sup, child_env({**urls, "PYTHONUNBUFFERED": "1"}))
        sup.wait()
    except KeyboardInterrupt:
        sup.say("slar", "interrupted")
        return 130
    finally:
        if sup.children:
            sup.stop()
        if embedded is not None:
            embedded.stop()
    return 0


def _say_unconfigured(sup: Supervisor) -> None:
    """Say on start which channels people rely on that cannot send here (demo data: all of them)."""
    with session_scope() as session:
        line = unconfigured_summary(get_settings(), kinds_in_use(session=session))
    if line:
        sup.say("slar", line)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start_all(sup: Supervisor, env: dict[str, str]) -> None:
    """Start every process whose code exists and print where the HTTP ones answer."""
    names = available()
    for name in names:
        sup.start(name, command_for(name, get_settings()), env)
    missing = [n for n in PROCESSES if n not in names]
    if missing:
        sup.say("slar", f"not built yet, not started: {', '.join(missing)}")
    http = {n: u for n in names if (u := url_of(n, get_settings()))}
    for name in http:
        sup.say("slar", f"{name}: {base_url_of(name, get_settings())}")
    threading.Thread(target=_wait_ready, args=(sup, http), daemon=True).start()


def _seed_if_empty(sup: Supervisor, demo_days: int) -> None:
    from app import seed  # heavy: loaded only by `slar up` (jinja2, the alert pipeline)

    if demo_days <= 0:
        return
    if not seed.database_is_empty():
        sup.say("slar", "database has users: demo data not seeded")
        return
    sup.say("slar", f"seeding {demo_days} days of demo data (slar seed-demo)")
    summary = seed.seed_demo(days=demo_days)
    sup.say("slar", "seeded: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    sup.say("slar", f"console sign-in: {seed.ADMIN_LOGIN} / {seed.DEMO_PASSWORD} (every demo user shares it)")
