"""Monitor actors: `monitor_tick` claims due checks from Postgres; `run_monitor_checks` probes a batch."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

import dramatiq
from sqlalchemy import select

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope, utcnow
from app.monitors.models import Monitor
from app.monitors.probes import Clients, Target, scheduled
from app.monitors.runner import (
    Claim,
    Outcome,
    apply_outcomes,
    claim_due,
    missed_beat,
    prune,
    silent_integrations,
)
from workers.dispatch import kick_escalations, send

log = logging.getLogger(__name__)
PROBE_THREAD = "monitor-probes"
# httpx logs every request at INFO: for thousands of checks a minute that is noise and CPU, not news.
# Filtered for the probe thread only; the channels' own requests keep their log lines.
logging.getLogger("httpx").addFilter(lambda record: record.threadName != PROBE_THREAD)
# Checks per message: small enough that batches spread over worker threads, large enough to share
# one HTTP client and one results transaction.
BATCH = 25
# Probes are claimed this far ahead of due and wait in the probe loop, so the tick period, the queue
# delay and a few seconds' stall of a loaded machine do not make checks late. The price: a check
# handed over before a pause or an edit still runs once with what it was handed.
AHEAD = timedelta(seconds=5)
# Housekeeping rides on the one-second tick at a slower pace: (job, every N seconds).
SILENCE_EVERY_S = 15
PRUNE_EVERY_S = 600
_last_slot: dict[str, int] = {}


def _due(job: str, every_s: int, now: datetime) -> bool:
    """True once per `every_s` seconds in this process (more across processes is harmless: idempotent)."""
    slot = int(now.timestamp()) // every_s
    if _last_slot.get(job) == slot:
        return False
    _last_slot[job] = slot
    return True


@dramatiq.actor(queue_name="monitors", actor_name="monitor_tick", max_retries=0)
def monitor_tick() -> None:
    """Claim every due monitor: heartbeats past their deadline fail here, probes go out in batches."""
    now = utcnow()
    # The claim commits on its own, so a failure raising an alert below can never stall scheduling.
    with session_scope() as session:
        claims = claim_due(session=session, now=now, ahead=AHEAD)
    probes = [c for c in claims if c.target.kind != "heartbeat"]
    for i in range(0, len(probes), BATCH):
        batch = [[c.target.monitor_id, c.due_at.isoformat()] for c in probes[i : i + BATCH]]
        send("monitors", "run_monitor_checks", batch)
    _apply([missed_beat(c, now) for c in claims if c.target.kind == "heartbeat"], now)
    if _due("silence", SILENCE_EVERY_S, now):
        with session_scope() as session:
            kicks = silent_integrations(session=session, now=now)
        kick_escalations(kicks)
    if _due("prune", PRUNE_EVERY_S, now):
        with session_scope() as session:
            removed = prune(session=session, now=now)
        # Periodic: only a prune that removed something is worth a line in the log.
        (log.info if removed else log.debug)("pruned %d monitor checks past retention", removed)


def _apply(outcomes: list[Outcome], now: datetime | None = None) -> None:
    """Store outcomes in one transaction; if that fails, one by one, so one bad monitor spoils no batch."""
    if not outcomes:
        return
    try:
        with session_scope() as session:
            kicks = apply_outcomes(session=session, outcomes=outcomes, now=now)
    except Exception:
        if len(outcomes) == 1:
            raise
        log.warning("applying %d monitor results failed; retrying one by one", len(outcomes), exc_info=True)
        for outcome in outcomes:
            try:
                _apply([outcome], now)
            except Exception:  # noqa: BLE001 - logged; the monitor's next slot is already set
                log.exception("applying the result of monitor %s failed", outcome.monitor_id)
        return
    # Enqueued only after commit; the escalation sweeper covers a lost enqueue.
    kick_escalations(kicks)


def _targets(claimed: list[tuple[int, datetime]]) -> list[Claim]:
    ids = [mid for mid, _ in claimed]
    with session_scope() as session:
        rows = {m.id: m for m in session.scalars(select(Monitor).where(Monitor.id.in_(ids)))}
        return [
            Claim(Target(mid, rows[mid].kind, rows[mid].target, dict(rows[mid].config)), due)
            for mid, due in claimed
            if mid in rows and not rows[mid].paused
        ]


class ProbeLoop:
    """One asyncio loop per worker process that runs handed-over checks at their due times.

    The check actor only hands its batch over and returns, so waiting for due times and for slow
    targets never holds a worker thread that escalations and notifications also need. Results are
    written from a small thread pool, off the loop. Checks in flight when the process stops are
    lost; their monitors' next slots are already set, so each loses one check at most.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clients = Clients()
        self.writers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitor-results")
        threading.Thread(target=self.loop.run_forever, name=PROBE_THREAD, daemon=True).start()

    def submit(self, claims: list[Claim]) -> Future[None]:
        return asyncio.run_coroutine_threadsafe(self._run(claims), self.loop)

    async def _run(self, claims: list[Claim]) -> None:
        results = await scheduled([(c.target, c.due_at) for c in claims], self.clients)
        outcomes = [
            Outcome(c.target.monitor_id, c.due_at, at, r) for c, (at, r) in zip(claims, results, strict=True)
        ]
        await self.loop.run_in_executor(self.writers, _apply, outcomes)


_probe_loop: list[ProbeLoop] = []
_probe_loop_lock = threading.Lock()


def probe_loop() -> ProbeLoop:
    """This process's probe loop, started on first use (after Dramatiq has forked its workers)."""
    with _probe_loop_lock:
        if not _probe_loop:
            _probe_loop.append(ProbeLoop())
        return _probe_loop[0]


@dramatiq.actor(queue_name="monitors", actor_name="run_monitor_checks", max_retries=0)
def run_monitor_checks(batch: list[list[object]]) -> None:
    """Hand a batch of claimed monitors to the probe loop, which checks each at its due time."""
    claims = _targets([(int(mid), datetime.fromisoformat(str(due))) for mid, due in batch])  # type: ignore[call-overload]
    if claims:
        future = probe_loop().submit(claims)
        future.add_done_callback(_log_failure)


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.error("a batch of monitor checks failed", exc_info=future.exception())
