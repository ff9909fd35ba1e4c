"""Which `sending` deliveries still have a live worker: a Postgres advisory lock held for the send.

A worker takes the delivery's lock on a connection of its own before it marks the delivery
`sending`, and keeps it until the outcome is committed. When the worker dies (kill -9, OOM, a lost
host) Postgres ends its connection and releases the lock at once, so a `sending` row whose lock
can be taken has nobody sending it: it is handed back within seconds instead of after the
time-based reclaim (one escalation minute). The lock is taken before `sending` is committed, so a
live send is never taken for a dead one.

A holder cut off behind a proxy or a relay keeps its TCP peer up, so keepalives never fire and
Postgres would keep the lock (and every worker waiting for it) forever. So a lease connection is
ended by Postgres once idle for LEASE_IDLE_S, and a live holder pings it more often than that
while its send runs: a slow channel keeps its lease, a holder nobody can reach loses it quickly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db import get_engine, utcnow

LEASE_IDLE_S = 10
PING_EVERY_S = LEASE_IDLE_S / 4

# The first key of the two-key advisory lock space: deliveries' leases, apart from other users.
LOCK_CLASS = 0x534C4452  # "SLDR"
_KEY = "(CAST(:id AS bigint) % 2147483647)::int"


class _Keeper:
    """One thread per process pings every held lease connection, so none of them idles out."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[Connection, threading.Lock]] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, key: int, conn: Connection, lock: threading.Lock) -> None:
        with self._guard:
            self._held[key] = (conn, lock)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()

    def release(self, key: int) -> None:
        with self._guard:
            self._held.pop(key, None)

    def _run(self) -> None:
        while True:
            time.sleep(PING_EVERY_S)
            with self._guard:
                held = list(self._held.values())
            for conn, lock in held:
                with lock:
                    try:
                        conn.exec_driver_sql("SELECT 1")
                        conn.commit()
                    except Exception:  # noqa: BLE001 - a lost lease shows at unlock; the keeper goes on
                        continue


_keeper = _Keeper()


@contextmanager
def delivery_lease(delivery_id: int) -> Iterator[None]:
    """Hold the delivery's lease for the block (waits while another worker sends the same delivery)."""
    with get_engine().connect() as conn:
        conn.execute(text(f"SET idle_session_timeout = '{LEASE_IDLE_S}s'"))
        conn.execute(text(f"SELECT pg_advisory_lock({LOCK_CLASS}, {_KEY})"), {"id": delivery_id})
        conn.commit()  # the lock is session-level: it outlives this transaction, idle is not in one
        lock = threading.Lock()
        _keeper.hold(id(conn), conn, lock)
        try:
            yield
        finally:
            _keeper.release(id(conn))
            with lock:
                try:
                    conn.execute(
                        text(f"SELECT pg_advisory_unlock({LOCK_CLASS}, {_KEY})"), {"id": delivery_id}
                    )
                    # Back in the pool the connection idles as long as it likes.
                    conn.exec_driver_sql("RESET idle_session_timeout")
                    conn.commit()
                except DBAPIError:
                    # Postgres ended the session: the lock went with it, and the outcome is committed.
                    conn.invalidate()


# MATERIALIZED: the try-lock runs only on `sending` rows, never on the whole table.
_RECLAIM_ORPHANS = text(f"""
WITH sending AS MATERIALIZED (
    SELECT id FROM deliveries WHERE status = 'sending' ORDER BY id LIMIT :limit
), orphaned AS MATERIALIZED (
    SELECT id FROM sending
    WHERE pg_try_advisory_xact_lock({LOCK_CLASS}, (CAST(id AS bigint) % 2147483647)::int)
)
UPDATE deliveries AS d SET status = 'pending', updated_at = :now, last_error = :note
FROM orphaned WHERE d.id = orphaned.id AND d.status = 'sending'
RETURNING d.id
""")


def reclaim_orphaned(
    *, session: Session, note: str, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """`sending` deliveries whose worker is gone go back to pending (their lock was free); their ids."""
    params = {"now": now or utcnow(), "note": note, "limit": limit}
    return list(session.scalars(_RECLAIM_ORPHANS, params))
