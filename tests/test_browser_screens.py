"""Schedules, the escalation dry run and Analytics in Chromium: screens that read well."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from analytics.export import export_configured
from app.db import session_scope, utcnow
from app.directory.models import Team
from app.schedules import service as schedules
from tests import browser, console_data
from tests.console_data import PASSWORD, Demo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]


@pytest.fixture(scope="module")
def console(output_dir: Path) -> Iterator[tuple[str, Demo]]:
    with console_data.database_for_console() as url:
        demo = console_data.build_demo()
        with session_scope() as s:
            payments = s.query(Team).filter_by(name="Payments").one()
            sched = schedules.create_schedule(
                session=s, name="Payments primary", time_zone="America/New_York", team_id=payments.id
            )
            anchor = (utcnow() - timedelta(days=3)).replace(tzinfo=None, minute=0, second=0, microsecond=0)
            schedules.add_layer(
                session=s,
                schedule_id=sched.id,
                member_ids=[demo.bob, demo.admin],
                rotation_kind="daily",
                handoff_anchor=anchor,
            )
        export_configured()
        with browser.console_server(url, output_dir / "browser-screens.log") as base:
            yield base, demo


def _spin(page, part: str, label: str) -> int:
    """One part (year, hour, ...) of a Streamlit date or time input, as its spin button holds it."""
    return int(page.get_by_role("spinbutton", name=f"{part}, {label}").get_attribute("aria-valuenow"))


def _grid_text(page, has_text: str) -> str:
    """The text of the data grid that holds `has_text` (Streamlit draws grids with an accessible table)."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(has_text=has_text)
    grid.first.wait_for(timeout=30_000)
    return grid.first.text_content() or ""


def test_schedules_open_on_my_team_and_an_override_starts_now_in_my_zone(console, output_dir: Path) -> None:
    base, _ = console
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "bob@example.test", PASSWORD, "/schedules")
        page.get_by_role("heading", name="Schedules").wait_for()
        chosen = page.get_by_role("combobox", name="Schedule", exact=True)
        assert chosen.input_value() == "Payments primary"  # Bob's team's, not the first one
        here = utcnow().astimezone(ZoneInfo("Europe/Paris"))
        date = tuple(_spin(page, part, "From (date, Europe/Paris)") for part in ("year", "month", "day"))
        assert date == (here.year, here.month, here.day)
        shown = _spin(page, "hour", "From (time, Europe/Paris)") * 60 + _spin(
            page, "minute", "From (time, Europe/Paris)"
        )
        assert abs(shown - (here.hour * 60 + here.minute)) <= 2
        page.screenshot(path=str(output_dir / "screens-schedules.png"))
        assert browser.exceptions(page) == []


def test_the_dry_run_follows_unsaved_edits_with_names(console, output_dir: Path) -> None:
    base, _ = console
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "admin@example.test", PASSWORD, "/escalation")
        text = _grid_text(page, "Pages")
        assert "user · Ada Admin" in text and "schedule · Storage primary" in text
        assert text.count("user · Ada Admin") == 2  # repeated once: two passes
        previous = browser.run_number(page)
        repeat = page.get_by_label("Repeat the whole policy (times)")
        repeat.fill("0")
        repeat.press("Enter")
        browser.finished_after(page, previous)
        text = _grid_text(page, "Pages")
        assert text.count("user · Ada Admin") == 1  # the unsaved edit, dry-run at once
        page.screenshot(path=str(output_dir / "screens-dry-run.png"))
        assert browser.exceptions(page) == []


def test_analytics_tables_speak_in_names_and_hours(console, output_dir: Path) -> None:
    base, _ = console
    with browser.chromium_page() as page:
        browser.sign_in_to(page, base, "admin@example.test", PASSWORD, "/analytics")
        previous = browser.run_number(page)
        page.locator('[data-testid="stButtonGroup"]').get_by_text("On-call load", exact=True).click()
        browser.finished_after(page, previous)
        load = _grid_text(page, "Hours on call")
        assert "Responder" in load and "Nights interrupted" in load and "user_id" not in load
        assert "Alice A" in load
        fairness = _grid_text(page, "Pages per member")
        assert "Storage" in fairness and "team_id" not in fairness
        page.screenshot(path=str(output_dir / "screens-analytics-load.png"))
        previous = browser.run_number(page)
        page.locator('[data-testid="stButtonGroup"]').get_by_text("Noise", exact=True).click()
        browser.finished_after(page, previous)
        noisy = _grid_text(page, "Latest summary")
        assert "First seen" in noisy and "service_id" not in noisy
        muted = _grid_text(page, "Paged nobody (%)")
        assert "In maintenance" in muted and "service_id" not in muted and "muted_share" not in muted
        page.screenshot(path=str(output_dir / "screens-analytics-noise.png"))
        assert browser.exceptions(page) == []
