"""Real worker processes for tests: `dramatiq workers.actors` and the scheduler, on loopback services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dramatiq import Broker, Message
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from tests import secret_registry
from tests.infra import ROOT
from tests.loopback.brokers import client_broker

VENV_BIN = Path(sys.executable).parent


@dataclass
class Stack:
    """Handles on a running worker stack: enqueue messages, kill and restart the workers."""

    env: dict[str, str]
    log_dir: Path
    threads: int
    broker: Broker
    processes: int = 1
    queues: tuple[str, ...] = ("escalation", "notify")
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str) -> None:
        args = {
            "workers": [
                str(VENV_BIN / "dramatiq"),
                "workers.actors",
                "--processes",
                str(self.processes),
                "--threads",
                str(self.threads),
                "-Q",
                *self.queues,
            ],
            "scheduler": [
                sys.executable,
                "-m",
                "workers.scheduler",
                "--every",
                f"sweep={self.env['SWEEP_S']}",
            ],
        }[name]
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.procs[name] = subprocess.Popen(
            args, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )

    def kill(self, name: str) -> None:
        """kill -9 the whole process group (the dramatiq parent and its worker process)."""
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(name)
        self.procs.clear()

    def enqueue(self, queue: str, actor: str, *args: Any) -> None:
        self.broker.enqueue(Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={}))

    def kick(self, incident_id: int, token: str) -> None:
        self.enqueue("escalation", "escalate", incident_id, token)


@contextmanager
def worker_stack(
    *,
    database_url: str,
    redis_url: str,
    namespace: str,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    threads: int = 4,
    processes: int = 1,
    sweep_s: float = 1.0,
    scheduler: bool = True,
    queues: tuple[str, ...] = ("escalation", "notify"),
    broker_url: str | None = None,
) -> Iterator[Stack]:
    """Start the workers (and the scheduler) for one database and one Redis namespace (or broker)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLAR_", "SLACK_", "FCM_", "SMTP_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_NAMESPACE=namespace,
        PYTHONPATH=str(ROOT),
        SWEEP_S=str(sweep_s),
        **(extra_env or {}),
    )
    if broker_url:
        env["BROKER_URL"] = broker_url
    log_dir.mkdir(parents=True, exist_ok=True)
    secret_registry.register_env(env)
    secret_registry.register_log(log_dir)
    broker = client_broker(broker_url, redis_url, namespace)
    stack = Stack(
        env=env, log_dir=log_dir, threads=threads, broker=broker, processes=processes, queues=queues
    )
    stack.start("workers")
    if scheduler:
        stack.start("scheduler")
    try:
        yield stack
    finally:
        stack.stop()
        broker.close()


def sessions(database_url: str) -> sessionmaker[Session]:
    """A session factory on a test database, for setting up data the workers will see."""
    engine = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True
    )
    return sessionmaker(bind=engine, expire_on_commit=False)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll until predicate() is truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
