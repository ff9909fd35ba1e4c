"""The frozen dataclasses the schedule resolver (app.schedules.logic) works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property
from operator import attrgetter
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)
PERIOD_DAYS = {"daily": 1, "weekly": 7}


@dataclass(frozen=True)
class Restriction:
    """A weekly window in wall-clock time, starting on each of `days` (0 = Monday) at `start`.

    end < start runs past midnight into the next day; end == start is a full 24 hours.
    """

    days: frozenset[int]
    start: time
    end: time
    length: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        span = datetime.combine(datetime.min, self.end) - datetime.combine(datetime.min, self.start)
        # Set once here: functools.cached_property takes a lock on every read in Python 3.11.
        object.__setattr__(self, "length", span if span > timedelta(0) else span + _DAY)


@dataclass(frozen=True)
class Segment:
    """A planned stretch of one user's time on a layer that does not rotate (imported, optimised)."""

    user_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Layer:
    id: int
    priority: int
    kind: str
    anchor: datetime
    members: tuple[int, ...]
    hours: int | None = None
    restrictions: tuple[Restriction, ...] = ()
    name: str = "Layer"
    # A fixed layer carries explicit segments instead of a rotation (members unused).
    segments: tuple[Segment, ...] | None = None
    # The version's effective span [effective_from, effective_until); None is unbounded.
    effective_from: datetime | None = None
    effective_until: datetime | None = None

    @property
    def period_days(self) -> int | None:
        """Rotation length in whole days, or None when it steps in elapsed hours."""
        if self.kind in PERIOD_DAYS:
            return PERIOD_DAYS[self.kind]
        if self.kind == "custom" and self.hours and self.hours % 24 == 0:
            return self.hours // 24
        return None

    @property
    def step_hours(self) -> int:
        return 1 if self.kind == "hourly" else int(self.hours or 0)

    @property
    def length(self) -> timedelta:
        """Rotation length on the wall clock (a monthly one: its shortest month, for estimates only)."""
        if self.kind == "monthly":
            return timedelta(days=28)
        days = self.period_days
        return timedelta(days=days) if days is not None else timedelta(hours=self.step_hours)

    def handoff_local(self, k: int) -> datetime:
        """Wall-clock time of handoff k: the anchor plus k lengths, or k calendar months for monthly."""
        if self.kind != "monthly":
            return self.anchor + self.length * k
        # The anchor's day is 1..28 (the service refuses later days), so every month has it.
        month = self.anchor.month - 1 + k
        return self.anchor.replace(year=self.anchor.year + month // 12, month=month % 12 + 1)

    def turn_estimate(self, local: datetime) -> int:
        """The turn a wall-clock time falls in, give or take one (the caller corrects by instants)."""
        if self.kind != "monthly":
            return (local - self.anchor) // self.length
        months = (local.year - self.anchor.year) * 12 + local.month - self.anchor.month
        return months - (1 if local < self.handoff_local(months) else 0)

    segment_starts: list[datetime] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment_starts", [s.start for s in self.segments or ()])


@dataclass(frozen=True)
class Override:
    id: int
    user_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    zone: str
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()
    id: int = 0

    tz: ZoneInfo = field(init=False, repr=False, compare=False)
    # Layers from the one that wins to the one that loses.
    ordered_layers: tuple[Layer, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tz", ZoneInfo(self.zone))
        ordered = tuple(sorted(self.layers, key=lambda la: (la.priority, la.id), reverse=True))
        object.__setattr__(self, "ordered_layers", ordered)

    @cached_property
    def sorted_overrides(self) -> tuple[Override, ...]:
        return tuple(sorted(self.overrides, key=attrgetter("start")))


@dataclass(frozen=True)
class Shift:
    user_id: int
    start: datetime
    end: datetime
    source: str  # "layer" or "override"
    source_id: int
    layer_name: str = ""
    # Rotation turn (layer) so adjacent turns of the same person stay separate shifts.
    turn: int = field(default=0, compare=False)
