"""Pure schedule resolver: who is on call, final shifts and gaps, over frozen dataclasses.

Time rules (documented behaviour, each covered by tests):
- Instants are aware datetimes; the resolver answers in UTC.
- Every rotation hands off on a wall-clock grid in the schedule's zone: handoff k is the anchor's
  wall-clock time plus k x the rotation length, counted on the clock, not in elapsed time. So a
  09:00 Europe/Berlin daily or weekly handoff stays 09:00 local across DST, and a 12-hour rotation
  anchored at 09:00 hands off at 09:00 and 21:00 local on both sides of a change (the shift that
  spans the change lasts 11 or 13 hours). The same holds for every length: a 1-hour rotation hands
  off on the hour; an 8-hour one at anchor, +8 h, +16 h; a 36-hour one alternates between the
  anchor's time and 12 hours later; a 5-hour one walks round the clock from the anchor. A monthly
  rotation hands off on the anchor's day of the month (1..28) at its wall-clock time.
- A turn whose start and end are the same instant (a 1-hour turn inside a 1-hour spring-forward
  gap) is empty: nobody serves it and the order continues with the next member at the jump.
- A rotation has nobody on call before its start (the anchor's instant), and a layer version has
  nobody outside [effective from, effective until): edits are effective-dated, see
  app.schedules.versions.
- A wall-clock time that does not exist (02:30 on a spring-forward day) resolves to the first valid
  instant after it, the moment the clocks jump; an ambiguous one (fall back) takes its first
  occurrence (fold=0).
- Overrides win over every layer; among layers a higher priority wins where it has someone, and on
  equal priority the later layer (higher id) wins.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.errors import Invalid
from app.schedules.shapes import _DAY
from app.schedules.shapes import PERIOD_DAYS as PERIOD_DAYS
from app.schedules.shapes import Layer as Layer
from app.schedules.shapes import Override as Override
from app.schedules.shapes import Restriction as Restriction
from app.schedules.shapes import Schedule as Schedule
from app.schedules.shapes import Segment as Segment
from app.schedules.shapes import Shift as Shift

# --- wall-clock <-> instant ---------------------------------------------------------------------


@lru_cache(maxsize=65536)
def local_to_utc(naive: datetime, zone: str) -> datetime:
    """The instant of a wall-clock time: first occurrence when ambiguous, jump instant when missing."""
    tz = ZoneInfo(zone)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # In a gap fold=1 reads the time with the later offset, giving an instant before the jump.
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi, after = first, first.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def to_local(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz).replace(tzinfo=None)


# --- validation -----------------------------------------------------------------------------------


def check_overrides(overrides: list[Override] | tuple[Override, ...]) -> None:
    """Refuse zero-length, naive or overlapping overrides, naming the field."""
    ordered = sorted(overrides, key=lambda o: o.start)
    for o in ordered:
        if o.start.tzinfo is None or o.end.tzinfo is None:
            raise Invalid("override times must carry a time zone", field="starts_at")
        if o.end <= o.start:
            raise Invalid("ends_at must be after starts_at", field="ends_at")
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            raise Invalid(f"override {b.id} overlaps override {a.id}", field="starts_at")


def parse_restrictions(raw: list[dict]) -> tuple[Restriction, ...]:
    """Turn stored restriction dicts into Restrictions, refusing bad days or times."""
    out = []
    for i, r in enumerate(raw or []):
        days = r.get("days", list(range(7)))
        if not days or any(not isinstance(d, int) or d < 0 or d > 6 for d in days):
            raise Invalid(f"restrictions[{i}].days must be weekdays 0..6", field=f"restrictions[{i}].days")
        try:
            start, end = time.fromisoformat(r["start"]), time.fromisoformat(r["end"])
        except (KeyError, TypeError, ValueError):
            raise Invalid(
                f"restrictions[{i}] needs start and end as HH:MM", field=f"restrictions[{i}].start"
            ) from None
        out.append(Restriction(days=frozenset(days), start=start, end=end))
    return tuple(out)


# --- one layer ------------------------------------------------------------------------------------


def _handoff(layer: Layer, zone: str, k: int) -> datetime:
    return local_to_utc(layer.handoff_local(k), zone)


def layer_span(layer: Layer, zone: str) -> tuple[datetime | None, datetime | None]:
    """[from, until) where a layer version can have anyone: its effective span, from the rotation start."""
    lo = layer.effective_from
    if layer.segments is None:
        start = local_to_utc(layer.anchor, zone)
        lo = start if lo is None else max(lo, start)
    return lo, layer.effective_until


def _in_span(layer: Layer, zone: str, at: datetime) -> bool:
    lo, hi = layer_span(layer, zone)
    return (lo is None or at >= lo) and (hi is None or at < hi)


def _turn_at(layer: Layer, schedule: Schedule, at: datetime) -> int:
    k = layer.turn_estimate(to_local(at, schedule.tz))
    # The wall-clock estimate can be a turn or two off next to a DST jump; the instants decide.
    while at < _handoff(layer, schedule.zone, k):
        k -= 1
    while at >= _handoff(layer, schedule.zone, k + 1):
        k += 1
    return k


def _windows(layer: Layer, zone: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple]:
    """Restriction windows as merged [start, end) instants overlapping [start, end)."""
    longest = max(r.length for r in layer.restrictions)
    day = (to_local(start, tz) - longest - _DAY).date()
    last = (to_local(end, tz) + _DAY).date()
    spans = []
    while day <= last:
        for r in layer.restrictions:
            if day.weekday() in r.days:
                ws = datetime.combine(day, r.start)
                s, e = local_to_utc(ws, zone), local_to_utc(ws + r.length, zone)
                if s < end and e > start and e > s:
                    spans.append((s, e))
        day += _DAY
    spans.sort()
    merged: list[list[datetime]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [tuple(m) for m in merged]


def _in_restrictions(layer: Layer, schedule: Schedule, at: datetime) -> bool:
    """Point form of _windows: a window is at most 24 h of wall-clock, so it began today or yesterday."""
    today = to_local(at, schedule.tz).date()
    for r in layer.restrictions:
        for day in (today, today - _DAY):
            if day.weekday() in r.days:
                ws = datetime.combine(day, r.start)
                if local_to_utc(ws, schedule.zone) <= at < local_to_utc(ws + r.length, schedule.zone):
                    return True
    return False


def layer_user_at(layer: Layer, schedule: Schedule, at: datetime) -> tuple[int, int] | None:
    """(user, turn) a single layer has on call at an instant, or None."""
    if not _in_span(layer, schedule.zone, at):
        return None
    if layer.segments is not None:
        i = bisect.bisect_right(layer.segment_starts, at) - 1
        if i >= 0 and at < layer.segments[i].end:
            return layer.segments[i].user_id, i
        return None
    if not layer.members:
        return None
    if layer.restrictions and not _in_restrictions(layer, schedule, at):
        return None
    k = _turn_at(layer, schedule, at)
    return layer.members[k % len(layer.members)], k


def layer_segments(layer: Layer, schedule: Schedule, start: datetime, end: datetime) -> list[tuple]:
    """(start, end, user, turn) stretches of one layer clipped to [start, end), in order."""
    lo, hi = layer_span(layer, schedule.zone)
    start = start if lo is None else max(start, lo)
    end = end if hi is None else min(end, hi)
    if end <= start:
        return []
    if layer.segments is not None:
        i = max(bisect.bisect_right(layer.segment_starts, start) - 1, 0)
        out = []
        for j, seg in enumerate(layer.segments[i:], start=i):
            if seg.start >= end:
                break
            if seg.end > start:
                out.append((max(seg.start, start), min(seg.end, end), seg.user_id, j))
        return out
    if not layer.members:
        return []
    turns = []
    k = _turn_at(layer, schedule, start)
    while True:
        s, e = _handoff(layer, schedule.zone, k), _handoff(layer, schedule.zone, k + 1)
        if s >= end:
            break
        if e > s:
            turns.append((max(s, start), min(e, end), layer.members[k % len(layer.members)], k))
        k += 1
    if not layer.restrictions:
        return turns
    # Both lists are sorted and each is non-overlapping: one forward sweep intersects them.
    out, first = [], 0
    for ws, we in _windows(layer, schedule.zone, schedule.tz, start, end):
        while first < len(turns) and turns[first][1] <= ws:
            first += 1
        j = first
        while j < len(turns) and turns[j][0] < we:
            s, e, user, k = turns[j]
            lo, hi = max(s, ws), min(e, we)
            if lo < hi:
                out.append((lo, hi, user, k))
            j += 1
    return out


# --- the whole schedule ---------------------------------------------------------------------------


def _override_at(schedule: Schedule, at: datetime) -> Override | None:
    # A scan beats sorting for a single query; overrides never overlap, so the first hit is the one.
    for o in schedule.overrides:
        if o.start <= at < o.end:
            return o
    return None


def shift_at(schedule: Schedule, at: datetime) -> tuple[int, str, int, int] | None:
    """(user, source, source id, turn) of whoever is on call at an instant."""
    o = _override_at(schedule, at)
    if o is not None:
        return o.user_id, "override", o.id, 0
    for layer in schedule.ordered_layers:
        hit = layer_user_at(layer, schedule, at)
        if hit is not None:
            return hit[0], "layer", layer.id, hit[1]
    return None


def who_is_on_call(schedule: Schedule, at: datetime) -> list[int]:
    """User ids on call at an instant: the override, else the winning layer's member, else nobody."""
    hit = shift_at(schedule, at)
    return [] if hit is None else [hit[0]]


def final_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The resolved, non-overlapping shifts in [start, end), each naming the layer or override."""
    if end <= start:
        return []
    overrides = [
        (max(o.start, start), min(o.end, end), o)
        for o in schedule.sorted_overrides
        if o.start < end and o.end > start
    ]
    per_layer = [(la, layer_segments(la, schedule, start, end)) for la in schedule.ordered_layers]
    cuts = {start, end}
    for s, e, _ in overrides:
        cuts.update((s, e))
    for _, segs in per_layer:
        for s, e, _, _ in segs:
            cuts.update((s, e))
    points = sorted(cuts)
    cursors = [0] * len(per_layer)
    oi = 0
    names = {la.id: la.name for la in schedule.layers}
    shifts: list[Shift] = []
    for a, b in zip(points, points[1:], strict=False):
        key = None
        while oi < len(overrides) and overrides[oi][1] <= a:
            oi += 1
        if oi < len(overrides) and overrides[oi][0] <= a:
            o = overrides[oi][2]
            key = (o.user_id, "override", o.id, 0)
        else:
            for li, (layer, segs) in enumerate(per_layer):
                c = cursors[li]
                while c < len(segs) and segs[c][1] <= a:
                    c += 1
                cursors[li] = c
                if c < len(segs) and segs[c][0] <= a:
                    key = (segs[c][2], "layer", layer.id, segs[c][3])
                    break
        if key is None:
            continue
        last = shifts[-1] if shifts else None
        if last and last.end == a and (last.user_id, last.source, last.source_id, last.turn) == key:
            shifts[-1] = Shift(
                last.user_id, last.start, b, last.source, last.source_id, last.layer_name, last.turn
            )
        else:
            name = "override" if key[1] == "override" else names.get(key[2], "")
            shifts.append(Shift(key[0], a, b, key[1], key[2], name, key[3]))
    return shifts


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Stretches of [start, end) when nobody is on call."""
    out, cursor = [], start
    for s in final_shifts(schedule, start, end):
        if s.start > cursor:
            out.append((cursor, s.start))
        cursor = s.end
    if cursor < end:
        out.append((cursor, end))
    return out
