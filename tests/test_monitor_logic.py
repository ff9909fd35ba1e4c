"""Properties of the pure monitor rules: the threshold state machine, scheduling grid and verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.monitors.logic import (
    Counters,
    HttpExpectation,
    advance,
    dns_verdict,
    hour_tallies,
    http_verdict,
    next_due,
    tally,
    tls_verdict,
    uptime_ratio,
)

statuses = st.lists(st.sampled_from(["ok", "fail", "error"]), max_size=60)
thresholds = st.integers(min_value=1, max_value=5)


def run(seq: list[str], down_after: int, up_after: int) -> list[tuple[int, str]]:
    counters, transitions = Counters(), []
    for i, status in enumerate(seq):
        step = advance(counters, status, failure_threshold=down_after, recovery_threshold=up_after)  # type: ignore[arg-type]
        counters = step.counters
        if step.transition:
            transitions.append((i, step.transition))
    return transitions


@given(statuses, thresholds, thresholds)
def test_transitions_alternate_and_start_with_down(seq: list[str], down_after: int, up_after: int) -> None:
    kinds = [t for _, t in run(seq, down_after, up_after)]
    assert kinds == ["down", "up"] * (len(kinds) // 2) + ["down"] * (len(kinds) % 2)


@given(statuses, thresholds, thresholds)
def test_checks_that_cannot_run_are_invisible(seq: list[str], down_after: int, up_after: int) -> None:
    without = [s for s in seq if s != "error"]
    assert [t for _, t in run(seq, down_after, up_after)] == [
        t for _, t in run(without, down_after, up_after)
    ]


@given(statuses, thresholds, thresholds)
def test_down_exactly_when_the_failure_streak_reaches_the_threshold(
    seq: list[str], down_after: int, up_after: int
) -> None:
    seq = [s for s in seq if s != "error"]
    transitions = dict(run(seq, down_after, up_after))
    state, streak = "unknown", {"ok": 0, "fail": 0}
    for i, status in enumerate(seq):
        other = "fail" if status == "ok" else "ok"
        streak[status], streak[other] = streak[status] + 1, 0
        if status == "fail" and state != "down" and streak["fail"] >= down_after:
            assert transitions.get(i) == "down"
            state = "down"
        elif status == "ok" and state != "up" and streak["ok"] >= up_after:
            assert transitions.get(i) == ("up" if state == "down" else None)
            state = "up"
        else:
            assert i not in transitions


@given(st.lists(st.sampled_from(["ok", "error"]), max_size=30), thresholds, thresholds)
def test_a_healthy_target_pages_nobody(seq: list[str], down_after: int, up_after: int) -> None:
    assert run(seq, down_after, up_after) == []


@given(
    st.integers(min_value=10, max_value=86400),
    st.integers(min_value=-100_000, max_value=10_000_000),
)
def test_next_due_stays_on_the_grid_and_in_the_future(interval_s: int, lag_s: int) -> None:
    due = datetime(2026, 1, 1, tzinfo=UTC)
    now = due + timedelta(seconds=lag_s)
    interval = timedelta(seconds=interval_s)
    nxt = next_due(due, interval, now)
    assert (nxt - due) % interval == timedelta(0) and nxt > due
    assert nxt > now or nxt == due + interval
    assert nxt - max(now, due) <= interval


@given(st.integers(min_value=100, max_value=599), st.text(max_size=50))
def test_any_2xx_is_up_without_expectations(status: int, body: str) -> None:
    verdict = http_verdict(status, body, HttpExpectation())
    assert (verdict is None) == (200 <= status < 300)


@given(st.text(min_size=1, max_size=10), st.text(max_size=50))
def test_keywords(keyword: str, body: str) -> None:
    required = http_verdict(200, body, HttpExpectation(required_keywords=(keyword,)))
    forbidden = http_verdict(200, body, HttpExpectation(forbidden_keywords=(keyword,)))
    assert (required is None) == (keyword in body) == (forbidden is not None)


def test_expected_status_overrides_2xx() -> None:
    assert http_verdict(503, "", HttpExpectation(expected_status=503)) is None
    assert http_verdict(200, "", HttpExpectation(expected_status=204)) == "status 200, expected 204"


@given(st.integers(min_value=-400 * 86400, max_value=400 * 86400), st.floats(min_value=0.5, max_value=90))
def test_tls_threshold(seconds_left: int, min_days: float) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    verdict = tls_verdict(now + timedelta(seconds=seconds_left), now, min_days)
    assert (verdict is None) == (seconds_left / 86400 >= min_days)
    assert verdict is None or ("expired" in verdict) == (seconds_left <= 0)


def test_dns_answers_compare_as_sets_ignoring_case_and_trailing_dot() -> None:
    assert dns_verdict(["B.example.", "a.example"], ["a.example", "b.example"]) is None
    assert dns_verdict(["10.0.0.1"], []) is None
    assert dns_verdict([], []) == "no records"
    assert dns_verdict(["10.0.0.2"], ["10.0.0.1"]) is not None


@given(statuses)
def test_uptime_is_a_share_of_checks_that_ran(seq: list[str]) -> None:
    ok, counted = tally(seq)
    ratio = uptime_ratio(ok, counted)
    assert counted == len([s for s in seq if s != "error"])
    assert ratio is None if counted == 0 else 0 <= ratio <= 1


@given(
    st.lists(st.tuples(st.integers(1, 3), st.integers(0, 5 * 3600), st.sampled_from(["ok", "fail", "error"])))
)
def test_hourly_tallies_add_up_to_the_raw_checks(rows: list[tuple[int, int, str]]) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    results = [(m, start + timedelta(seconds=s), status) for m, s, status in rows]
    tallies = hour_tallies(results)
    for monitor in {m for m, _, _ in rows}:
        mine = [status for m, _, status in rows if m == monitor]
        ok = sum(v[0] for (m, _), v in tallies.items() if m == monitor)
        counted = sum(v[1] for (m, _), v in tallies.items() if m == monitor)
        errors = sum(v[2] for (m, _), v in tallies.items() if m == monitor)
        assert (ok, counted) == tally(mine) and errors == mine.count("error")
    assert all(hour.minute == hour.second == 0 for _, hour in tallies)
