"""Fairness-aware rotation planner on OR-Tools CP-SAT, over plain data (no database here).

Load is measured, not assumed: a slot weighs what the same hours of the week cost in the past (pages
per local hour-of-week in the schedule's zone), with pages that fell at night (22:00-07:00 in the
member's own zone) counted again, plus weekend and public-holiday hours. The model assigns one member
per slot and minimises the spread of load between members, then the spread of shift counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ortools.sat.python import cp_model

from app.errors import Invalid
from app.schedules.logic import local_to_utc

_HOUR = timedelta(hours=1)
SCALE = 100  # CP-SAT wants integers: loads are kept in hundredths
# Families that can make a plan impossible, in the order they are relaxed to find the culprit: the
# rules a lead sets first, then the facts (other duties, time off) that the lead cannot wish away.
FAMILIES = ("max_consecutive", "min_rest_hours", "no_overlap", "unavailability")


@dataclass(frozen=True)
class Slot:
    index: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Member:
    user_id: int
    zone: str
    # Time off, honoured as "unavailability".
    unavailable: tuple[tuple[datetime, datetime], ...] = ()
    # On call elsewhere (another schedule or layer), honoured as "no_overlap".
    busy: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True)
class Weights:
    page: float = 1.0
    night_page: float = 2.0  # on top of the page itself: a broken night costs three daytime pages
    weekend_hour: float = 0.05
    holiday_hour: float = 0.05
    hour: float = 0.01


@dataclass(frozen=True)
class Rules:
    max_consecutive: int | None = None
    min_rest_hours: float = 0.0


@dataclass(frozen=True)
class Problem:
    zone: str
    slots: tuple[Slot, ...]
    members: tuple[Member, ...]
    # Expected pages per hour of the week (0 = Monday 00:00 local) in the schedule's zone.
    rates: dict[int, float] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    rules: Rules = Rules()
    weights: Weights = Weights()


@dataclass(frozen=True)
class FairnessRow:
    user_id: int
    shifts: int
    hours: float
    expected_pages: float
    expected_night_pages: float
    load: float


@dataclass(frozen=True)
class Proposal:
    assignments: tuple[tuple[int, datetime, datetime], ...]  # (user, start, end) per slot
    before: tuple[FairnessRow, ...]
    after: tuple[FairnessRow, ...]
    gini_before: dict[str, float]
    gini_after: dict[str, float]
    optimal: bool


def make_slots(zone: str, start_local: datetime, *, count: int, hours: int = 24) -> tuple[Slot, ...]:
    """Consecutive slots; whole-day slots hand off at the same wall-clock time across DST."""
    if count <= 0:
        raise Invalid("the horizon must hold at least one shift", field="weeks")
    if hours <= 0:
        raise Invalid("shift_hours must be positive", field="shift_hours")
    if hours % 24 == 0:
        edges = [local_to_utc(start_local + timedelta(hours=hours * i), zone) for i in range(count + 1)]
    else:
        first = local_to_utc(start_local, zone)
        edges = [first + timedelta(hours=hours * i) for i in range(count + 1)]
    return tuple(Slot(i, edges[i], edges[i + 1]) for i in range(count))


def page_rates(pages: Iterable[datetime], *, zone: str, since: datetime, until: datetime) -> dict[int, float]:
    """Pages per local hour-of-week, averaged over the weeks of history."""
    weeks = max((until - since) / timedelta(weeks=1), 1e-9)
    tz = ZoneInfo(zone)
    counts: dict[int, float] = {}
    for at in pages:
        if since <= at < until:
            local = at.astimezone(tz)
            how = local.weekday() * 24 + local.hour
            counts[how] = counts.get(how, 0.0) + 1.0
    return {how: c / weeks for how, c in counts.items()}


def _hours(start: datetime, end: datetime) -> Iterable[tuple[datetime, float]]:
    at = start
    while at < end:
        nxt = min(at + _HOUR, end)
        yield at, (nxt - at) / _HOUR
        at = nxt


def _measure(
    problem: Problem, user: Member, start: datetime, end: datetime
) -> tuple[float, float, float, float]:
    """(hours, expected pages, expected night pages, load) of one member over [start, end)."""
    tz, own = ZoneInfo(problem.zone), ZoneInfo(user.zone)
    w = problem.weights
    hours = pages = night = special = 0.0
    for at, frac in _hours(start, end):
        local = at.astimezone(tz)
        rate = problem.rates.get(local.weekday() * 24 + local.hour, 0.0) * frac
        hours += frac
        pages += rate
        mine = at.astimezone(own).hour
        if mine >= 22 or mine < 7:
            night += rate
        if local.date() in problem.holidays:
            special += w.holiday_hour * frac
        elif local.weekday() >= 5:
            special += w.weekend_hour * frac
    load = w.page * pages + w.night_page * night + special + w.hour * hours
    return hours, pages, night, load


def fairness(problem: Problem, pieces: Iterable[tuple[int, datetime, datetime]]) -> tuple[FairnessRow, ...]:
    """Per-member hours, expected pages, expected night pages and load of an assignment."""
    by_id = {m.user_id: m for m in problem.members}
    acc = {uid: [0, 0.0, 0.0, 0.0, 0.0] for uid in by_id}
    for uid, start, end in pieces:
        if uid not in by_id:
            continue
        h, p, n, load = _measure(problem, by_id[uid], start, end)
        row = acc[uid]
        row[0] += 1
        row[1] += h
        row[2] += p
        row[3] += n
        row[4] += load
    return tuple(
        FairnessRow(uid, int(r[0]), round(r[1], 2), round(r[2], 2), round(r[3], 2), round(r[4], 2))
        for uid, r in acc.items()
    )


def gini(values: list[float]) -> float:
    """Gini index: 0 when everyone carries the same, towards 1 when one person carries it all."""
    n, total = len(values), sum(values)
    if n == 0 or total <= 0:
        return 0.0
    ordered = sorted(values)
    weighted = sum((i + 1) * v for i, v in enumerate(ordered))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


def gini_table(rows: tuple[FairnessRow, ...]) -> dict[str, float]:
    return {
        col: gini([getattr(r, col) for r in rows])
        for col in ("hours", "expected_pages", "expected_night_pages", "load")
    }


def _overlaps(slot: Slot, spans: tuple[tuple[datetime, datetime], ...]) -> bool:
    return any(s < slot.end and e > slot.start for s, e in spans)


def _mean_cost(costs: list[list[int]]) -> int:
    return max(1, sum(sum(r) for r in costs) // max(1, sum(len(r) for r in costs)))


def _build(
    problem: Problem, costs: list[list[int]], relaxed: frozenset[str]
) -> tuple[cp_model.CpModel, dict]:
    model = cp_model.CpModel()
    slots, members = problem.slots, problem.members
    x = {(m, s): model.new_bool_var(f"x{m}_{s}") for m in range(len(members)) for s in range(len(slots))}
    for s, slot in enumerate(slots):
        model.add_exactly_one(x[m, s] for m in range(len(members)))
        for m, member in enumerate(members):
            if "unavailability" not in relaxed and _overlaps(slot, member.unavailable):
                model.add(x[m, s] == 0)
            if "no_overlap" not in relaxed and _overlaps(slot, member.busy):
                model.add(x[m, s] == 0)
    k = problem.rules.max_consecutive
    if k and "max_consecutive" not in relaxed:
        for m in range(len(members)):
            for s in range(len(slots) - k):
                model.add(sum(x[m, s + j] for j in range(k + 1)) <= k)
    rest = timedelta(hours=problem.rules.min_rest_hours)
    if rest and "min_rest_hours" not in relaxed:
        for m in range(len(members)):
            for s in range(len(slots) - 2):
                for j in range(2, len(slots) - s):
                    if slots[s + j].start - slots[s].end >= rest:
                        break
                    # Ending a block at s (s+1 is not theirs) forbids a new one before the rest is over.
                    model.add(x[m, s] - x[m, s + 1] + x[m, s + j] <= 1)
    loads = []
    counts = []
    top = sum(max(col) for col in zip(*costs, strict=True)) + 1
    for m in range(len(members)):
        load = model.new_int_var(0, top, f"load{m}")
        model.add(load == sum(costs[m][s] * x[m, s] for s in range(len(slots))))
        loads.append(load)
        count = model.new_int_var(0, len(slots), f"count{m}")
        model.add(count == sum(x[m, s] for s in range(len(slots))))
        counts.append(count)
    hi, lo = model.new_int_var(0, top, "hi"), model.new_int_var(0, top, "lo")
    chi, clo = model.new_int_var(0, len(slots), "chi"), model.new_int_var(0, len(slots), "clo")
    model.add_max_equality(hi, loads)
    model.add_min_equality(lo, loads)
    model.add_max_equality(chi, counts)
    model.add_min_equality(clo, counts)
    model.minimize((hi - lo) + _mean_cost(costs) * (chi - clo))
    return model, x


def _solve(
    problem: Problem, costs: list[list[int]], relaxed: frozenset[str], seconds: float, *, probe: bool = False
) -> tuple[int, dict]:
    """Solve; a probe only asks whether any plan exists and stops at the first one."""
    model, x = _build(problem, costs, relaxed)
    solver = cp_model.CpSolver()
    solver.parameters.stop_after_first_solution = probe
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = 7
    # Good enough once the load spread is within 5% of one typical shift of the proven bound.
    solver.parameters.absolute_gap_limit = max(1, _mean_cost(costs) // 20)
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = {s: m for (m, s), var in x.items() if solver.value(var)}
        return status, chosen
    return status, {}


def _explain(problem: Problem, costs: list[list[int]], seconds: float) -> Invalid:
    """Name the constraint that cannot be met: the first family whose relaxation makes a plan possible."""
    for slot in problem.slots:
        if all(_overlaps(slot, m.unavailable) for m in problem.members):
            return Invalid(
                f"unavailability: nobody is available for the shift starting {slot.start.isoformat()}",
                field="unavailability",
            )
    for family in FAMILIES:
        status, _ = _solve(problem, costs, frozenset({family}), seconds, probe=True)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Invalid(f"{family} cannot be met with these members and this horizon", field=family)
    names = " and ".join(FAMILIES)
    return Invalid(f"no plan meets {names} together", field="constraints")


def solve(
    problem: Problem, *, current: Iterable[tuple[int, datetime, datetime]] = (), seconds: float = 8.0
) -> Proposal:
    """Assign one member per slot with the least load imbalance; Invalid names an unmeetable constraint."""
    if not problem.members:
        raise Invalid("a plan needs at least one member", field="member_ids")
    if len({m.user_id for m in problem.members}) != len(problem.members):
        raise Invalid("members must be distinct", field="member_ids")
    if problem.rules.max_consecutive is not None and problem.rules.max_consecutive < 1:
        raise Invalid("max_consecutive must be at least 1", field="max_consecutive")
    if problem.rules.min_rest_hours < 0:
        raise Invalid("min_rest_hours must not be negative", field="min_rest_hours")
    costs = [
        [round(_measure(problem, m, s.start, s.end)[3] * SCALE) for s in problem.slots]
        for m in problem.members
    ]
    status, chosen = _solve(problem, costs, frozenset(), seconds)
    if status == cp_model.INFEASIBLE:
        # Each relaxed model only needs to be shown feasible, which is quick next to optimising.
        raise _explain(problem, costs, min(seconds, 5.0))
    if not chosen:
        raise Invalid(
            f"no plan found within {seconds:g} s; shorten the horizon or relax a constraint",
            field="constraints",
        )
    assignments = tuple((problem.members[chosen[s.index]].user_id, s.start, s.end) for s in problem.slots)
    before = fairness(problem, current)
    after = fairness(problem, assignments)
    return Proposal(
        assignments=assignments,
        before=before,
        after=after,
        gini_before=gini_table(before),
        gini_after=gini_table(after),
        optimal=status == cp_model.OPTIMAL,
    )
