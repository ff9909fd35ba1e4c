"""The ingest app under uvicorn, as a real process on a free loopback port (for tests from outside)."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import infra
from tests.loopback.workers import Stack, worker_stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def ingest_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """Run `uvicorn ingest.app:app` with `env`; yields its base URL once /health answers."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "ingest.app:app", "--host", "127.0.0.1", "--port", str(port)]
    with infra.process(args, env, log):
        url = f"http://127.0.0.1:{port}"
        infra.wait_http(url + "/health")
        yield url


@contextmanager
def ingest_with_workers(
    *, database_url: str, redis_env: dict[str, str], log_root: Path, extra_env: dict[str, str]
) -> Iterator[tuple[Stack, str]]:
    """Workers, the scheduler and ingest on one database and one fresh Redis namespace."""
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    logs = log_root / namespace
    with (
        worker_stack(
            database_url=database_url,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=logs,
            extra_env=extra_env,
        ) as stack,
        ingest_process(dict(stack.env), logs / "ingest.log") as url,
    ):
        yield stack, url
