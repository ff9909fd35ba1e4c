"""Schedules, the escalation dry run and Analytics in Chromium: screens that read well."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from analytics.export import export_configured
from app.db import session_scope, utcnow
from app.directory import service as directory
from app.directory.models import Team
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.schedules import service as schedules
from tests import browser, console_data
from tests.console_data import PASSWORD, Demo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
LONG_NAME = "Maximiliana Featherstonehaugh-Worthington-Smythe"


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
            _pages(s, demo)
        export_configured()
        with browser.console_server(url, output_dir / "browser-screens.log") as base:
            yield base, demo


def _pages(s, demo: Demo) -> None:
    """Pages for the load charts, one to a person whose name is far longer than Vega's label limit."""
    long = directory.create_user(session=s, email="max@example.test", name=LONG_NAME, password=PASSWORD)
    now = utcnow()
    for user_id, incident_id, ago in (
        (demo.alice, demo.incident_a, 6),
        (long.id, demo.incident_b, 2),
        (demo.bob, demo.incident_b, 1),
    ):
        data = {"user_id": user_id, "channel": "slack", "level": 0, "repeat_index": 0}
        incidents.record_event(
            session=s, incident_id=incident_id, kind="notified", at=now - timedelta(minutes=ago), data=data
        )


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


def _fractional_ticks(page, axis_title: str) -> list[str]:
    """Tick labels with a fraction on the charts with an axis or legend titled `axis_title` (counts)."""
    charts = [[label["text"] for label in chart["labels"]] for chart in browser.chart_labels(page)]
    counted = [texts for texts in charts if axis_title in texts]
    assert counted, f"no chart has an axis titled {axis_title!r}"
    return [t for texts in counted for t in texts if re.fullmatch(r"-?[\d.,]+", t) and "." in t]


def _section(page, name: str) -> None:
    previous = browser.run_number(page)
    page.locator('[data-testid="stButtonGroup"]').get_by_text(name, exact=True).click()
    browser.finished_after(page, previous)
    page.locator('[data-testid="stVegaLiteChart"] svg text').first.wait_for(timeout=30_000)


def _column(page, has_text: str, column: str) -> list[str]:
    """One column's cells of the grid that holds `has_text`, read from its accessible table."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(has_text=has_text).first
    grid.wait_for(timeout=30_000)
    rows = grid.evaluate(
        "g => Array.from(g.querySelectorAll('tr')).map(r => "
        "Array.from(r.querySelectorAll('th,td')).map(c => c.textContent.trim()))"
    )
    at = rows[0].index(column)
    return [row[at] for row in rows[1:]]


def test_analytics_tables_speak_in_names_and_hours(console, output_dir: Path) -> None:
    base, demo = console
    with session_scope() as s:
        disk_at = s.get(Incident, demo.incident_a).created_at
    with browser.chromium_page() as page:
        # Bob reads in Europe/Paris: an hour off UTC in December, so a UTC time shown would be caught.
        browser.sign_in_to(page, base, "bob@example.test", PASSWORD, "/analytics")
        page.locator('[data-testid="stVegaLiteChart"] svg text').first.wait_for(timeout=30_000)
        assert browser.cut_chart_labels(page) == []
        _section(page, "On-call load")
        load = _grid_text(page, "Hours on call")
        assert "Responder" in load and "Nights interrupted" in load and "user_id" not in load
        assert "Alice A" in load
        hours = _column(page, "Hours on call", "Hours on call")
        assert hours and all(re.fullmatch(r"\d+(\.\d)?", h) for h in hours), hours
        assert any("." in h for h in hours)  # a part-day rotation: rounded to a tenth, not to whole hours
        fairness = _grid_text(page, "Pages per member")
        assert "Storage" in fairness and "team_id" not in fairness
        assert all(
            re.fullmatch(r"\d+(\.\d)?", g) for g in _column(page, "Pages per member", "Pages per member")
        )
        # The long name is drawn whole, inside its chart; so is every axis label, title and legend.
        labels = [label["text"] for chart in browser.chart_labels(page) for label in chart["labels"]]
        assert LONG_NAME in labels
        assert browser.cut_chart_labels(page) == []
        assert _fractional_ticks(page, "pages") == []
        page.screenshot(path=str(output_dir / "screens-analytics-load.png"))
        _section(page, "Noise")
        noisy = _grid_text(page, "Latest summary")
        assert "First seen" in noisy and "service_id" not in noisy
        muted = _grid_text(page, "Paged nobody (%)")
        assert "In maintenance" in muted and "service_id" not in muted and "muted_share" not in muted
        summaries = _column(page, "Latest summary", "Latest summary")
        first_seen = _column(page, "Latest summary", "First seen")[
            summaries.index("Disk almost full on db-1")
        ]
        assert first_seen == disk_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M")
        assert first_seen != disk_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M")
        assert browser.cut_chart_labels(page) == []
        assert _fractional_ticks(page, "alerts") == []
        page.screenshot(path=str(output_dir / "screens-analytics-noise.png"))
        assert browser.exceptions(page) == []
