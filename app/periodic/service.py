"""Claim a periodic job's tick: one compare-and-set statement, won by exactly one scheduler per slot."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.periodic.models import PeriodicTick

# Schedulers fire on the epoch-aligned grid of each job (k * every); a firing is counted as its grid
# point when it comes up to this fraction of an interval early or up to the rest of it late (a
# loaded machine), so a late tick never takes the next one's slot.
EARLY = 0.1


def slot_of(at: datetime, every_s: float) -> int:
    """The tick `at` falls in, for a job that runs every `every_s` seconds (aligned to the epoch)."""
    return math.floor(at.timestamp() / every_s + EARLY)


def next_grid_point(at: datetime, every_s: float) -> datetime:
    """The first tick of the epoch-aligned grid at or after `at` (where a scheduler starts its timer)."""
    return datetime.fromtimestamp(math.ceil(at.timestamp() / every_s) * every_s, tz=UTC)


def claim_tick(*, session: Session, job: str, slot: int, holder: str, now: datetime | None = None) -> bool:
    """True for the one caller that moves the job to `slot`; False for every other, then and later.

    No lock is held between ticks, so a scheduler that dies or is cut off blocks nobody: the next
    tick goes to whichever scheduler asks first. Concurrent claims of one slot serialize on the row,
    and the losers see the winner's slot in the WHERE of ON CONFLICT (read committed re-checks it).
    """
    stmt = insert(PeriodicTick).values(job=job, slot=slot, claimed_at=now or utcnow(), claimed_by=holder)
    stmt = stmt.on_conflict_do_update(
        index_elements=[PeriodicTick.job],
        set_={"slot": stmt.excluded.slot, "claimed_at": stmt.excluded.claimed_at, "claimed_by": holder},
        where=PeriodicTick.slot < stmt.excluded.slot,
    ).returning(PeriodicTick.job)
    return session.execute(stmt).first() is not None


def last_ticks(*, session: Session) -> dict[str, PeriodicTick]:
    """Each job's last claimed tick (for /metrics and operators)."""
    return {t.job: t for t in session.scalars(select(PeriodicTick))}
