"""The per-integration token bucket, on a clock the test moves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.ratelimit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate_and_a_wait_that_is_exact() -> None:
    clock = Clock()
    buckets = TokenBuckets(clock)
    assert [buckets.take(1, rate=2, burst=3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take(1, rate=2, burst=3)
    assert wait == 0.5
    clock.now += wait
    assert buckets.take(1, rate=2, burst=3) == 0.0
    assert buckets.take(2, rate=2, burst=3) == 0.0  # another integration has its own bucket


@given(
    st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=60),
    st.integers(1, 20),
    st.integers(1, 30),
)
def test_never_more_than_burst_plus_rate_times_elapsed(gaps: list[float], rate: int, burst: int) -> None:
    clock = Clock()
    buckets = TokenBuckets(clock)
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += buckets.take(7, rate=rate, burst=burst) == 0.0
    assert allowed <= burst + rate * sum(gaps) + 1e-9
