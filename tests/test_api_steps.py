"""Escalation steps ↔ levels: a round trip keeps the plan, whatever the levels."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from api.steps import levels_to_steps, steps_to_levels

target = st.one_of(
    st.builds(lambda u: {"kind": "user", "user_id": u}, st.integers(1, 50)),
    st.builds(lambda s: {"kind": "schedule", "schedule_id": s}, st.integers(1, 50)),
    st.builds(
        lambda t, m: {"kind": "team", "team_id": t, "team_mode": m},
        st.integers(1, 9),
        st.sampled_from(["all", "round_robin"]),
    ),
    st.builds(lambda c: {"kind": "slack_channel", "slack_channel": c}, st.sampled_from(["#ops", "#db"])),
)
level = st.fixed_dictionaries({"delay_minutes": st.integers(0, 120), "targets": st.lists(target, max_size=4)})


def _canonical(levels):  # users first, then the others in order: the order steps render them
    out = []
    for lv in levels:
        ts = [t for t in lv["targets"] if t["kind"] == "user"] + [
            t for t in lv["targets"] if t["kind"] != "user"
        ]
        out.append((lv["delay_minutes"], [{k: v for k, v in t.items()} for t in ts]))
    return out


@given(st.lists(level, min_size=1, max_size=5))
def test_round_trip_keeps_delays_and_targets(levels) -> None:
    back = steps_to_levels(levels_to_steps(levels))
    got = [
        (
            lv.delay_minutes,
            [
                {
                    k: v
                    for k, v in asdict(t).items()
                    if v is not None and (k != "team_mode" or t.kind == "team")
                }
                for t in lv.targets
            ],
        )
        for lv in back
    ]
    want = _canonical(levels)
    # A trailing level with no delay and no targets is dropped by the rendering; nothing is paged by it.
    while len(want) > len(got) and want[-1] == (0, []):
        want.pop()
    assert got == want or (not got[-1][1] and got[-1][0] == 0 and got[:-1] == want)


def test_positions_and_wait_in_seconds() -> None:
    steps = levels_to_steps(
        [
            {"delay_minutes": 5, "targets": [{"kind": "user", "user_id": 3}]},
            {"delay_minutes": 0, "targets": [{"kind": "schedule", "schedule_id": 2}]},
        ]
    )
    assert [(s["position"], s["type"]) for s in steps] == [
        (0, "notify_persons"),
        (1, "wait"),
        (2, "notify_on_call_from_schedule"),
    ]
    assert steps[1]["duration"] == 300
