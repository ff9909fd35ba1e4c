"""Pure monitor rules: the up/down state machine, check verdicts, scheduling and uptime."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

State = Literal["unknown", "up", "down"]
Status = Literal["ok", "fail", "error"]
Transition = Literal["down", "up"] | None


@dataclass(frozen=True)
class Counters:
    """Where a monitor stands: its state and the current streaks of failures and successes."""

    state: State = "unknown"
    failures: int = 0
    successes: int = 0


@dataclass(frozen=True)
class Step:
    counters: Counters
    transition: Transition  # "down" pages (trigger), "up" resolves; None changes nothing outside


def advance(counters: Counters, status: Status, *, failure_threshold: int, recovery_threshold: int) -> Step:
    """Apply one check result: down after N failures in a row, up after M successes in a row.

    A check that cannot run ("error") says nothing about the target, so it neither counts as a
    failure nor breaks a streak: a broken check configuration pages nobody and hides no outage.
    """
    if status == "error":
        return Step(counters, None)
    if status == "ok":
        successes, failures = counters.successes + 1, 0
        if counters.state != "up" and successes >= recovery_threshold:
            # Leaving "unknown" for "up" is not a recovery: there was no outage to resolve.
            transition: Transition = "up" if counters.state == "down" else None
            return Step(Counters("up", failures, successes), transition)
        return Step(Counters(counters.state, failures, successes), None)
    failures, successes = counters.failures + 1, 0
    if counters.state != "down" and failures >= failure_threshold:
        return Step(Counters("down", failures, successes), "down")
    return Step(Counters(counters.state, failures, successes), None)


def next_due(due_at: datetime, interval: timedelta, now: datetime) -> datetime:
    """The next due time after a check that was due at due_at, on the monitor's fixed grid.

    Staying on the grid keeps the interval honoured without drift; when the scheduler has fallen
    more than a whole interval behind, the missed slots are skipped rather than run in a burst.
    """
    nxt = due_at + interval
    if nxt <= now:
        missed = (now - due_at) // interval
        nxt = due_at + interval * (missed + 1)
    return nxt


@dataclass(frozen=True)
class HttpExpectation:
    expected_status: int | None = None  # None: any 2xx
    required_keywords: tuple[str, ...] = ()
    forbidden_keywords: tuple[str, ...] = ()


def http_verdict(status_code: int, body: str, expect: HttpExpectation) -> str | None:
    """Why an HTTP answer counts as down, or None when it is as expected."""
    if expect.expected_status is not None:
        if status_code != expect.expected_status:
            return f"status {status_code}, expected {expect.expected_status}"
    elif not 200 <= status_code < 300:
        return f"status {status_code}, expected 2xx"
    missing = [k for k in expect.required_keywords if k not in body]
    if missing:
        return f"required keyword {missing[0]!r} not found"
    present = [k for k in expect.forbidden_keywords if k in body]
    if present:
        return f"forbidden keyword {present[0]!r} found"
    return None


def tls_verdict(not_after: datetime, now: datetime, min_days: float) -> str | None:
    """Why a certificate counts as failing (expired, or expiring within min_days), or None."""
    left = (not_after - now).total_seconds() / 86400
    if left <= 0:
        return f"certificate expired {-left:.1f} days ago"
    if left < min_days:
        return f"certificate expires in {left:.1f} days (threshold {min_days:g})"
    return None


def dns_verdict(answers: Iterable[str], expected: Sequence[str]) -> str | None:
    """Why a DNS answer counts as failing (no records, or not the expected set), or None."""
    got = {_norm(a) for a in answers}
    if not got:
        return "no records"
    want = {_norm(e) for e in expected}
    if want and got != want:
        return f"answered {', '.join(sorted(got))}; expected {', '.join(sorted(want))}"
    return None


def _norm(value: str) -> str:
    return value.strip().rstrip(".").lower()


def uptime_ratio(ok: int, counted: int) -> float | None:
    """Share of counted checks that succeeded (checks that could not run are not counted), or None."""
    return ok / counted if counted else None


def tally(statuses: Iterable[str]) -> tuple[int, int]:
    """(ok, counted) of a run of check statuses: "error" says nothing about the target and is left out."""
    ok = counted = 0
    for status in statuses:
        if status != "error":
            counted += 1
            ok += status == "ok"
    return ok, counted


def heartbeat_deadline(last_beat: datetime, interval: timedelta, grace: timedelta) -> datetime:
    """When a heartbeat monitor is late: one interval plus the grace after the last beat."""
    return last_beat + interval + grace


def floor_hour(when: datetime) -> datetime:
    """The start of the hour a moment falls in (hourly uptime buckets)."""
    return when.replace(minute=0, second=0, microsecond=0)


def hour_tallies(
    results: Iterable[tuple[int, datetime, str]],
) -> dict[tuple[int, datetime], tuple[int, int, int]]:
    """(monitor, hour) -> (ok, counted, errors) of (monitor id, checked at, status) results."""
    out: dict[tuple[int, datetime], tuple[int, int, int]] = {}
    for monitor_id, at, status in results:
        key = (monitor_id, floor_hour(at))
        ok, counted, errors = out.get(key, (0, 0, 0))
        ran = status != "error"
        out[key] = (ok + (status == "ok"), counted + ran, errors + (not ran))
    return out
