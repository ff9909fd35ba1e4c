"""Real workers plus a real ingest process (uvicorn), sharing one database, Redis namespace and env."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import infra
from tests.loopback.workers import VENV_BIN, Stack, worker_stack

CALLBACK_SECRET = "callback-test-secret"


@dataclass
class Live:
    stack: Stack
    ingest_url: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_stack(
    *,
    database_url: str,
    redis_env: dict[str, str],
    log_dir: Path,
    extra_env: dict[str, str],
    minute_s: float = 1.0,
) -> Iterator[Live]:
    """Workers + scheduler + `uvicorn ingest.app:app`; SLAR_PUBLIC_URL is the ingest's own address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    env = {
        "SLAR_ESCALATION_MINUTE_S": str(minute_s),
        "SLAR_PUBLIC_URL": url,
        "SLAR_CALLBACK_SECRET": CALLBACK_SECRET,
        **extra_env,
    }
    with worker_stack(
        database_url=database_url,
        redis_url=redis_env["REDIS_URL"],
        namespace=namespace,
        log_dir=log_dir / namespace,
        extra_env=env,
    ) as stack:
        argv = [
            str(VENV_BIN / "python"),
            "-m",
            "uvicorn",
            "ingest.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with infra.process(argv, stack.env, log_dir / namespace / "ingest.log"):
            infra.wait_http(f"{url}/health", timeout=60)
            yield Live(stack=stack, ingest_url=url)
