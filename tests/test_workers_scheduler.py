"""The scheduler process: intervals from PERIODIC with overrides, and bad overrides refused by name."""

from __future__ import annotations

import pytest

from workers.periodic import PERIODIC
from workers.scheduler import build, intervals


def test_sweeper_is_registered_every_15_seconds() -> None:
    assert ("sweep", 15.0, "escalation", "sweep") in PERIODIC
    assert intervals([])["sweep"] == 15.0


def test_overrides_change_one_job_only() -> None:
    every = intervals(["sweep=0.5"])
    assert every["sweep"] == 0.5
    assert all(every[name] == s for name, s, _, _ in PERIODIC if name != "sweep")


@pytest.mark.parametrize(
    ("override", "message"),
    [("nosuch=1", "no periodic job named 'nosuch'"), ("sweep=soon", "must be a number"), ("sweep=0", "> 0")],
)
def test_bad_overrides_name_the_problem(override: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        intervals([override])


def test_every_job_is_scheduled_with_coalescing() -> None:
    scheduler = build(intervals(["sweep=2"]))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {name for name, *_ in PERIODIC}
    assert jobs["sweep"].trigger.interval.total_seconds() == 2 and jobs["sweep"].coalesce
