"""Property tests of the pure resolver across zones with odd DST rules, plus its documented DST cases."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.errors import Invalid
from app.schedules import logic
from app.schedules.logic import Layer, Override, Restriction, Schedule, Segment

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
# Days next to DST changes in the zones above, so windows straddle them often.
DST_DAYS = [
    datetime(2026, 3, 8, tzinfo=UTC),
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 4, 5, tzinfo=UTC),
    datetime(2026, 10, 4, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

kinds = st.sampled_from(["daily", "weekly", "hourly", "custom"])
# Anchors fall before every window below: the rotation has started (tests of the start are separate).
anchors = st.builds(
    lambda d, h, m: datetime(2025, 6, 1, h, m) + timedelta(days=d),
    st.integers(0, 180),
    # 01:xx and 02:xx are where clocks jump or repeat, so they are drawn often.
    st.one_of(st.sampled_from([1, 2]), st.integers(0, 23)),
    st.sampled_from([0, 15, 30, 45]),
)
restrictions = st.builds(
    lambda days, s, length: Restriction(
        frozenset(days), time(s // 60, s % 60), time(((s + length) % 1440) // 60, (s + length) % 60)
    ),
    st.sets(st.integers(0, 6), min_size=1),
    st.integers(0, 95).map(lambda q: q * 15),
    st.integers(1, 95).map(lambda q: q * 15),
)


@st.composite
def layers(draw, layer_id: int, allow_restrictions: bool = True) -> Layer:
    kind = draw(kinds)
    hours = draw(st.sampled_from([2, 5, 12, 24, 36, 48, 72])) if kind == "custom" else None
    rs = tuple(draw(st.lists(restrictions, max_size=2))) if allow_restrictions else ()
    return Layer(
        id=layer_id,
        priority=draw(st.integers(0, 2)),
        kind=kind,
        anchor=draw(anchors),
        members=tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))),
        hours=hours,
        restrictions=rs,
        name=f"L{layer_id}",
    )


@st.composite
def overrides(draw) -> tuple[Override, ...]:
    """Up to three non-overlapping overrides near a DST change."""
    at = draw(st.sampled_from(DST_DAYS)) + timedelta(minutes=draw(st.integers(-3 * 1440, 1440)))
    out = []
    for i in range(draw(st.integers(0, 3))):
        at += timedelta(minutes=draw(st.integers(0, 2000)))
        end = at + timedelta(minutes=draw(st.integers(15, 2000)))
        out.append(Override(100 + i, draw(st.integers(1, 9)), at, end))
        at = end
    return tuple(out)


@st.composite
def schedules(draw) -> Schedule:
    n = draw(st.integers(1, 3))
    return Schedule(
        zone=draw(st.sampled_from(ZONES)),
        layers=tuple(draw(layers(i + 1)) for i in range(n)),
        overrides=draw(overrides()),
    )


windows = st.builds(
    lambda day, off, length: (day + timedelta(minutes=off), day + timedelta(minutes=off + length)),
    st.sampled_from(DST_DAYS),
    st.integers(-4 * 1440, 2 * 1440),
    st.integers(60, 12 * 1440),
)


def _check_partition(sched: Schedule, start: datetime, end: datetime) -> list[logic.Shift]:
    shifts = logic.final_shifts(sched, start, end)
    pieces = sorted([(s.start, s.end) for s in shifts] + logic.gaps(sched, start, end))
    assert pieces[0][0] == start and pieces[-1][1] == end
    for (a0, a1), (b0, _) in zip(pieces, pieces[1:], strict=False):
        assert a0 < a1 and a1 == b0
    return shifts


@PROPS
@given(schedules(), windows, st.lists(st.floats(0, 1), min_size=1, max_size=15))
def test_shifts_partition_the_window_and_match_point_queries(sched, window, fractions) -> None:
    start, end = window
    shifts = _check_partition(sched, start, end)
    for a, b in zip(shifts, shifts[1:], strict=False):
        # Adjacent shifts are different turns, never a split of the same one.
        assert (a.user_id, a.source_id, a.turn, a.end) != (b.user_id, b.source_id, b.turn, b.start)
    probes = [start + (end - start) * f for f in fractions] + [s.start for s in shifts]
    for at in probes:
        if at >= end:
            continue
        covering = [s for s in shifts if s.start <= at < s.end]
        assert len(covering) <= 1
        assert logic.who_is_on_call(sched, at) == [c.user_id for c in covering]


@PROPS
@given(schedules(), windows, st.floats(0, 0.9), st.integers(15, 3000), st.integers(1, 9))
def test_override_wins_inside_and_changes_nothing_outside(sched, window, f, minutes, user) -> None:
    start, end = window
    sched = Schedule(zone=sched.zone, layers=sched.layers)
    o_start = start + (end - start) * f
    o_end = o_start + timedelta(minutes=minutes)
    assume(o_end < end)
    with_override = Schedule(
        zone=sched.zone, layers=sched.layers, overrides=(Override(99, user, o_start, o_end),)
    )
    inside = logic.final_shifts(with_override, o_start, o_end)
    assert [(s.user_id, s.start, s.end, s.source) for s in inside] == [(user, o_start, o_end, "override")]
    assert logic.who_is_on_call(with_override, o_start + (o_end - o_start) / 2) == [user]
    assert logic.final_shifts(with_override, start, o_start) == logic.final_shifts(sched, start, o_start)
    assert logic.final_shifts(with_override, o_end, end) == logic.final_shifts(sched, o_end, end)
    _check_partition(with_override, start, end)


def _gap_jump(naive: datetime, zone: str) -> datetime | None:
    """The jump instant when a wall-clock time does not exist in a zone, else None (found by a scan)."""
    tz = ZoneInfo(zone)
    first = naive.replace(tzinfo=tz).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return None
    at = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    before = at.astimezone(tz).utcoffset()
    while at.astimezone(tz).utcoffset() == before:
        at += timedelta(minutes=1)
    return at


# Each zone's own 2026 clock changes, so a window always straddles one of them.
CHANGES = {
    "Europe/Berlin": [datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)],
    "America/New_York": [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)],
    "Australia/Lord_Howe": [datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, tzinfo=UTC)],
}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(CHANGES)), layers(1, allow_restrictions=False), st.data())
def test_day_based_handoffs_keep_their_wall_clock_time_across_dst(zone, layer, data) -> None:
    assume(layer.period_days is not None)
    sched = Schedule(zone=zone, layers=(layer,))
    change = data.draw(st.sampled_from(CHANGES[zone]))
    days = layer.period_days
    start = change - timedelta(days=days + 1 + data.draw(st.integers(0, 2)))
    end = change + timedelta(days=days + 1 + data.draw(st.integers(0, 2)))
    tz = ZoneInfo(zone)
    handoffs = logic.final_shifts(sched, start, end)[1:]
    # At least one handoff on each side of the change.
    assert min(h.start for h in handoffs) < change <= max(h.start for h in handoffs)
    for shift in handoffs:
        local = shift.start.astimezone(tz)
        if local.time().replace(fold=0) != layer.anchor.time():
            # Only allowed when the anchor's time does not exist that day: then it is the jump.
            wanted = datetime.combine(local.date(), layer.anchor.time())
            assert _gap_jump(wanted, zone) == shift.start
        else:
            # An ambiguous time is taken at its first occurrence.
            assert shift.start == datetime.combine(local.date(), layer.anchor.time()).replace(
                tzinfo=tz
            ).astimezone(UTC)


@PROPS
@given(st.sampled_from(ZONES), layers(1, allow_restrictions=False), windows)
def test_every_handoff_is_on_the_wall_clock_grid(zone, layer, window) -> None:
    sched = Schedule(zone=zone, layers=(layer,))
    tz = ZoneInfo(zone)
    for s in logic.final_shifts(sched, *window)[1:]:
        local = s.start.astimezone(tz).replace(tzinfo=None)
        wall = layer.anchor + layer.length * s.turn
        # The wall-clock time itself, or (inside a spring-forward gap) the jump instant it resolves to.
        assert local == wall or s.start == logic.local_to_utc(wall, zone)


def test_twelve_hour_rotation_hands_off_at_0900_and_2100_local_across_both_changes() -> None:
    for zone, spring, autumn in (
        ("Europe/Berlin", datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC)),
    ):
        tz = ZoneInfo(zone)
        day_night = Layer(1, 0, "custom", datetime(2026, 1, 1, 9), (1, 2), hours=12)
        sched = Schedule(zone=zone, layers=(day_night,))
        for day in (spring, autumn):
            shifts = logic.final_shifts(sched, day, day + timedelta(days=4))
            times = {s.start.astimezone(tz).strftime("%H:%M") for s in shifts[1:]}
            assert times == {"09:00", "21:00"}
            offsets = {s.start.astimezone(tz).utcoffset() for s in shifts[1:]}
            assert len(offsets) == 2  # the window really straddles the change
            # Day people stay day people: the 09:00 turns all go to member 1.
            assert {s.user_id for s in shifts[1:] if s.start.astimezone(tz).hour == 9} == {1}
            lengths = sorted({s.end - s.start for s in shifts[1:-1]})
            assert timedelta(hours=12) in lengths and len(lengths) == 2


def test_nobody_is_on_call_before_the_rotation_starts() -> None:
    # A weekly rotation starting Monday 2026-03-09 09:00 Berlin, asked about the week before.
    layer = Layer(1, 0, "weekly", datetime(2026, 3, 9, 9), (1, 2, 3))
    sched = Schedule(zone="Europe/Berlin", layers=(layer,))
    start = datetime(2026, 3, 9, 8, tzinfo=UTC)
    assert logic.who_is_on_call(sched, start - timedelta(days=3)) == []
    assert logic.who_is_on_call(sched, start - timedelta(seconds=1)) == []
    assert logic.who_is_on_call(sched, start) == [1]
    week = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
    assert logic.gaps(sched, *week) == [(week[0], start)]
    assert [(s.user_id, s.start) for s in logic.final_shifts(sched, *week)] == [(1, start)]
    # An override before the start still counts: it is a person put on call explicitly.
    early = Override(7, 9, start - timedelta(hours=2), start - timedelta(hours=1))
    with_override = dataclasses.replace(sched, overrides=(early,))
    assert logic.who_is_on_call(with_override, early.start) == [9]


def test_a_layer_version_answers_only_inside_its_effective_span() -> None:
    anchor = datetime(2026, 3, 2, 9)
    edit = datetime(2026, 3, 4, 12, tzinfo=UTC)
    old = Layer(1, 0, "daily", anchor, (1, 2), effective_until=edit)
    new = Layer(1, 0, "daily", anchor, (2, 1), effective_from=edit)
    sched = Schedule(zone="UTC", layers=(old, new))
    assert logic.who_is_on_call(sched, datetime(2026, 3, 4, 11, tzinfo=UTC)) == [1]  # turn 2: old order
    assert logic.who_is_on_call(sched, datetime(2026, 3, 4, 13, tzinfo=UTC)) == [2]  # turn 2: new order
    shifts = logic.final_shifts(sched, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC))
    assert [(s.user_id, s.start.day, s.start.hour) for s in shifts] == [
        (1, 2, 9), (2, 3, 9), (1, 4, 9), (2, 4, 12), (1, 5, 9), (2, 6, 9)
    ]  # fmt: skip


@PROPS
@given(
    st.sampled_from(ZONES), layers(1, allow_restrictions=False), st.sampled_from(DST_DAYS), st.integers(1, 3)
)
def test_k_members_get_equal_turns_over_k_periods(zone, layer, day, rounds) -> None:
    layer = dataclasses.replace(layer, members=tuple(range(1, len(layer.members) + 1)))
    sched = Schedule(zone=zone, layers=(layer,))
    k0 = logic._turn_at(layer, sched, day)
    k = len(layer.members)
    start = logic._handoff(layer, zone, k0)
    end = logic._handoff(layer, zone, k0 + k * rounds)
    shifts = logic.final_shifts(sched, start, end)
    counts = {m: sum(1 for s in shifts if s.user_id == m) for m in layer.members}
    # A 1-hour turn inside a 1-hour spring-forward gap is empty: nobody serves it.
    for j in range(k0, k0 + k * rounds):
        if logic._handoff(layer, zone, j) == logic._handoff(layer, zone, j + 1):
            counts[layer.members[j % k]] += 1
    assert set(counts.values()) == {rounds}


# --- documented DST resolutions ------------------------------------------------------------------


def _daily(zone: str, anchor: datetime, members=(1, 2)) -> Schedule:
    return Schedule(zone=zone, layers=(Layer(1, 0, "daily", anchor, members),))


def _handoffs(sched: Schedule, start: datetime, end: datetime) -> list[datetime]:
    return [s.start for s in logic.final_shifts(sched, start, end)[1:]]


def test_berlin_0900_handoff_is_0900_local_on_both_sides_of_both_changes() -> None:
    sched = _daily("Europe/Berlin", datetime(2026, 1, 1, 9, 0))
    spring = _handoffs(sched, datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert [h.hour for h in spring] == [8, 8, 7, 7, 7]  # 27, 28 March CET; 29, 30, 31 March CEST
    autumn = _handoffs(sched, datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC))
    assert [h.hour for h in autumn] == [7, 8, 8]


def test_handoff_inside_the_spring_gap_moves_to_the_jump_instant() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026; clocks jump 02:00 CET -> 03:00 CEST at 01:00 UTC.
    sched = _daily("Europe/Berlin", datetime(2026, 3, 1, 2, 30))
    hs = _handoffs(sched, datetime(2026, 3, 27, 12, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC))
    assert hs == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
        datetime(2026, 3, 31, 0, 30, tzinfo=UTC),
    ]
    # Lord Howe moves by 30 minutes: 02:15 on 4 October 2026 becomes 02:30 local (+11).
    lh = _daily("Australia/Lord_Howe", datetime(2026, 9, 1, 2, 15))
    hs = _handoffs(lh, datetime(2026, 10, 3, 0, tzinfo=UTC), datetime(2026, 10, 4, 0, tzinfo=UTC))
    assert hs == [datetime(2026, 10, 3, 15, 30, tzinfo=UTC)]
    assert hs[0].astimezone(ZoneInfo("Australia/Lord_Howe")).strftime("%H:%M") == "02:30"


def test_ambiguous_handoff_takes_the_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 25 October 2026; the handoff is at the first (CEST, 00:30 UTC).
    sched = _daily("Europe/Berlin", datetime(2026, 10, 1, 2, 30))
    hs = _handoffs(sched, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 25, 12, tzinfo=UTC))
    assert hs == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


def test_kolkata_has_no_dst_and_a_half_hour_offset() -> None:
    sched = _daily("Asia/Kolkata", datetime(2026, 1, 1, 9, 0))
    hs = _handoffs(sched, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))
    assert [(h.hour, h.minute) for h in hs] == [(3, 30)] * 3


def test_restricted_layer_is_off_outside_its_window_and_lower_layer_shows_through() -> None:
    business = Layer(
        2,
        5,
        "weekly",
        datetime(2026, 1, 5),
        (7,),
        restrictions=(Restriction(frozenset(range(5)), time(9), time(17)),),
    )
    base = Layer(1, 0, "daily", datetime(2026, 1, 1, 9), (1, 2))
    sched = Schedule(zone="America/New_York", layers=(business, base))
    shifts = logic.final_shifts(sched, datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    business_hours = [(s.start, s.end) for s in shifts if s.user_id == 7]
    # Friday 6 March (EST) and Monday 9 March (EDT after the 8 March change), 09:00-17:00 local.
    assert business_hours == [
        (datetime(2026, 3, 6, 14, tzinfo=UTC), datetime(2026, 3, 6, 22, tzinfo=UTC)),
        (datetime(2026, 3, 9, 13, tzinfo=UTC), datetime(2026, 3, 9, 21, tzinfo=UTC)),
    ]
    assert logic.gaps(sched, datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)) == []


def test_equal_priority_later_layer_wins_and_fixed_layers_use_their_segments() -> None:
    t = datetime(2026, 6, 1, 12, tzinfo=UTC)
    fixed = Layer(3, 1, "daily", datetime(2026, 1, 1), (), segments=(Segment(9, t, t + timedelta(hours=2)),))
    a = Layer(1, 1, "daily", datetime(2026, 1, 1), (1,))
    b = Layer(2, 1, "daily", datetime(2026, 1, 1), (2,))
    sched = Schedule(zone="UTC", layers=(a, b, fixed))
    assert logic.who_is_on_call(sched, t + timedelta(hours=1)) == [9]
    assert logic.who_is_on_call(sched, t + timedelta(hours=3)) == [2]
    assert logic.gaps(sched, t, t + timedelta(days=2)) == []


def test_overlapping_and_empty_overrides_are_refused() -> None:
    t = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(Invalid) as err:
        logic.check_overrides(
            [
                Override(1, 1, t, t + timedelta(hours=2)),
                Override(2, 2, t + timedelta(hours=1), t + timedelta(hours=3)),
            ]
        )
    assert err.value.field == "starts_at"
    with pytest.raises(Invalid) as err:
        logic.check_overrides([Override(1, 1, t, t)])
    assert err.value.field == "ends_at"
    logic.check_overrides(
        [
            Override(1, 1, t, t + timedelta(hours=1)),
            Override(2, 2, t + timedelta(hours=1), t + timedelta(hours=2)),
        ]
    )
