"""Properties of the pure escalation planner (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.escalation.logic import (
    THROTTLES,
    Level,
    Plan,
    Target,
    idempotency_key,
    plan_from_snapshot,
    plan_step,
    round_robin,
    successor,
    throttle_action,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)

levels_st = st.lists(st.floats(min_value=0, max_value=120, allow_nan=False), min_size=1, max_size=6).map(
    lambda delays: tuple(
        Level(position=i, delay_minutes=d, targets=(Target(id=i, kind="user", user_id=i),))
        for i, d in enumerate(delays)
    )
)
plans = st.builds(Plan, levels=levels_st, repeat_count=st.integers(min_value=0, max_value=4))


@given(plans, st.floats(min_value=0.01, max_value=120))
def test_a_walk_pages_every_level_of_every_pass_once_in_order(plan: Plan, minute_s: float) -> None:
    walked = []
    level, repeat, ran, now = 0, 0, False, NOW
    while (
        step := plan_step(plan, level=level, repeat=repeat, already_ran=ran, now=now, minute_s=minute_s)
    ) is not None:
        level, repeat, ran = step.index, step.repeat, True
        walked.append((level, repeat))
        expected_due = now + timedelta(seconds=step.level.delay_minutes * minute_s)
        if step.next_due is None:
            assert successor(plan, level, repeat) is None
            break
        assert step.next_due == expected_due
        now = step.next_due
    n = len(plan.levels)
    assert walked == [(i, r) for r in range(plan.repeat_count + 1) for i in range(n)]


@given(plans, st.integers(min_value=0, max_value=10), st.integers(min_value=0, max_value=5))
def test_a_step_not_yet_run_pages_the_current_level(plan: Plan, level: int, repeat: int) -> None:
    step = plan_step(plan, level=level, repeat=repeat, already_ran=False, now=NOW)
    if repeat > plan.repeat_count:
        assert step is None
    else:
        assert step is not None and not step.advanced
        assert step.level == plan.levels[min(level, len(plan.levels) - 1)] and step.repeat == repeat


def test_an_empty_plan_pages_nobody() -> None:
    assert plan_step(Plan(levels=()), level=0, repeat=0, already_ran=False, now=NOW) is None
    assert plan_from_snapshot(None) == Plan(levels=())


@given(
    st.lists(st.integers(), min_size=1, max_size=8, unique=True),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=1, max_value=4),
)
def test_round_robin_is_fair(members: list[int], cursor: int, rounds: int) -> None:
    chosen = []
    for _ in range(rounds * len(members)):
        who, cursor = round_robin(members, cursor)
        assert 0 <= cursor < len(members)
        chosen.append(who)
    assert all(chosen.count(m) == rounds for m in members)
    # Consecutive picks never repeat a member while another one is waiting.
    assert len(members) == 1 or all(a != b for a, b in zip(chosen, chosen[1:], strict=False))


def test_round_robin_of_nobody() -> None:
    assert round_robin([], 3) == (None, 3)


key_parts = st.tuples(
    st.integers(1, 10**6),
    st.sampled_from(["t1", "t2"]),
    st.integers(0, 9),
    st.integers(0, 9),
    st.one_of(st.none(), st.integers(1, 10**6)),
    st.integers(1, 10**6),
    st.sampled_from(["C1", "C2"]),
)


@given(key_parts, key_parts)
def test_idempotency_keys_are_equal_only_for_the_same_delivery(a: tuple, b: tuple) -> None:
    def key(p: tuple) -> str:
        inc, token, level, repeat, user, cm, channel = p
        return idempotency_key(
            incident_id=inc,
            token=token,
            level=level,
            repeat=repeat,
            user_id=user,
            contact_method_id=cm if user is not None else None,
            channel=channel,
        )

    def identity(p: tuple) -> tuple:
        inc, token, level, repeat, user, cm, channel = p
        return (
            (inc, token, level, repeat, user, cm)
            if user is not None
            else (inc, token, level, repeat, channel)
        )

    assert (key(a) == key(b)) == (identity(a) == identity(b))
    assert len(key(a)) <= 200


@given(st.sampled_from(["push", "slack", "email", "webhook"]), st.integers(min_value=0, max_value=50))
def test_throttle_sends_under_the_limit_bundles_once_then_holds(channel: str, sent: int) -> None:
    action = throttle_action(channel, sent)
    if channel not in THROTTLES:
        assert action == "send"
        return
    limit = THROTTLES[channel][0]
    assert action == ("send" if sent < limit else "bundle" if sent == limit else "hold")


def test_snapshot_becomes_a_typed_plan() -> None:
    snapshot = {
        "policy_id": 1,
        "name": "p",
        "repeat_count": 2,
        "levels": [
            {
                "position": 0,
                "delay_minutes": 5,
                "targets": [
                    {
                        "id": 9,
                        "kind": "team",
                        "user_id": None,
                        "schedule_id": None,
                        "team_id": 3,
                        "slack_channel": None,
                        "team_mode": "round_robin",
                    }
                ],
            }
        ],
    }
    plan = plan_from_snapshot(snapshot)
    assert plan.repeat_count == 2 and plan.levels[0].delay_minutes == 5.0
    assert plan.levels[0].targets == (Target(id=9, kind="team", team_id=3, team_mode="round_robin"),)
