"""Schedules as SLAR would have them: render a mapped schedule spec and compare it with the source's."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta

from app.schedules import logic

Stretch = tuple[str, datetime, datetime]  # (source user id, start, end)
# How far ahead a plan compares SLAR's rendering of a schedule with the source's.
WINDOW = timedelta(days=90)


def resolve(spec: dict, start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """(user source id, start, end) SLAR's resolver gives the mapped schedule, merged per person."""
    people = sorted(
        {m for la in spec["layers"] for m in la["members"]} | {o["user"] for o in spec["overrides"]}
    )
    index = {p: i for i, p in enumerate(people)}
    layers = tuple(
        logic.Layer(
            id=i + 1,
            priority=la["priority"],
            kind=la["kind"],
            anchor=datetime.fromisoformat(la["anchor"]),
            members=tuple(index[m] for m in la["members"]),
            hours=la["hours"],
            restrictions=logic.parse_restrictions(la["restrictions"]),
            name=la["name"],
            effective_until=datetime.fromisoformat(la["until"]) if la.get("until") else None,
        )
        for i, la in enumerate(spec["layers"])
    )
    overrides = tuple(
        logic.Override(
            i + 1, index[o["user"]], datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"])
        )
        for i, o in enumerate(spec["overrides"])
    )
    shifts = logic.final_shifts(
        logic.Schedule(zone=spec["zone"], layers=layers, overrides=overrides), start, end
    )
    return merge([(people[s.user_id], s.start, s.end) for s in shifts])


def merge(shifts: list[tuple[str, datetime, datetime]]) -> list[tuple[str, datetime, datetime]]:
    """Join back-to-back stretches of the same person (turn boundaries are not a change of person)."""
    out: list[tuple[str, datetime, datetime]] = []
    for who, s, e in sorted(shifts, key=lambda x: x[1]):
        if out and out[-1][0] == who and out[-1][2] == s:
            out[-1] = (who, out[-1][1], e)
        else:
            out.append((who, s, e))
    return out


def minutes_apart(
    a: list[tuple[str, datetime, datetime]], b: list[tuple[str, datetime, datetime]]
) -> tuple[int, datetime | None]:
    """Minutes in which the two on-call answers differ, and the first instant they do."""
    cuts = sorted({t for _, s, e in a + b for t in (s, e)})
    starts_a, starts_b = [s for _, s, _ in a], [s for _, s, _ in b]
    differ, first = 0.0, None
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        if _who(a, starts_a, lo) != _who(b, starts_b, lo):
            differ += (hi - lo).total_seconds() / 60
            first = first or lo
    return round(differ), first


def _who(shifts: list[tuple[str, datetime, datetime]], starts: list[datetime], at: datetime) -> str | None:
    i = bisect.bisect_right(starts, at) - 1
    return shifts[i][0] if i >= 0 and at < shifts[i][2] else None


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def difference(spec: dict, theirs: list[Stretch], now: datetime, what: str) -> str | None:
    """A warning when SLAR would have someone else on call than the source in the next WINDOW."""
    # From the very instant the source was asked about (not the minute before it), or the seconds
    # before it would count as a minute with nobody at the source.
    start, end = now, now + WINDOW
    ours = resolve(spec, start, end) if spec["layers"] or spec["overrides"] else []
    clipped = [(w, max(s, start), min(e, end)) for w, s, e in theirs if e > start and s < end]
    minutes, first = minutes_apart(ours, clipped)
    if not minutes:
        return None
    when = first.isoformat() if first else "?"
    name = spec["name"]
    return f"schedule {name!r}: {minutes} minutes of the next 90 days differ from {what} (first at {when})"
