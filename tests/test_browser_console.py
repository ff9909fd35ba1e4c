"""The console in a real browser: Debian Chromium against `streamlit run` on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db import session_scope
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentEvent
from app.widgets import REFRESH_SECONDS, present_pages
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
    """A fresh demo database and the console serving it."""
    with console_data.database_for_console() as url:
        demo = console_data.build_demo()
        with browser.console_server(url, output_dir / "browser-console.log") as base:
            yield base, demo


def test_sign_in_and_visit_every_page_without_an_exception(console, output_dir: Path) -> None:
    base, _ = console
    with browser.chromium_page() as page:
        browser.sign_in(page, base, "admin@example.test", PASSWORD)
        seen = []
        for spec in present_pages():
            if spec.hidden:
                continue
            heading = spec.title if spec.file not in ("agent.py", "monitors.py") else None
            url_path = "" if spec.file == "overview.py" else spec.file.removesuffix(".py")
            browser.open_page(page, spec.title, url_path, heading)
            assert browser.exceptions(page) == [], spec.file
            page.screenshot(path=str(output_dir / f"console-{spec.file.removesuffix('.py')}.png"))
            seen.append(spec.file)
        assert {"overview.py", "incidents.py", "people.py"} <= set(seen)


def _trigger(service_name: str, summary: str) -> int:
    from app.directory.models import Service

    with session_scope() as s:
        service_id = s.query(Service.id).filter_by(name=service_name).scalar()
        alert = console_data.alert(f"fp-{summary}", summary)
        return incidents.trigger_or_group(
            session=s, service_id=service_id, dedup_key=summary, alert=alert
        ).incident.id


def test_new_incident_appears_live_and_is_acknowledged_from_the_browser(console, output_dir: Path) -> None:
    base, demo = console
    with browser.chromium_page() as page:
        browser.sign_in(page, base, "alice@example.test", PASSWORD)
        browser.open_page(page, "Incidents", "incidents", "Incidents")
        summary = "Inode exhaustion on db-7"
        incident_id = _trigger("postgres", summary)
        # The list refreshes itself: no reload, no click.
        page.get_by_text(summary).first.wait_for(state="attached", timeout=(REFRESH_SECONDS * 3) * 1000)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Open incident").click()
        page.get_by_role("option", name=summary).click()
        page.wait_for_url("**/incident?id=*", timeout=30_000)
        page.get_by_role("heading", name=summary).wait_for(timeout=30_000)
        browser.settled(page)
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("Acknowledged.").wait_for(timeout=30_000)
        browser.settled(page)
        page.screenshot(path=str(output_dir / "console-incident-acknowledged.png"))
        assert browser.exceptions(page) == []
    with session_scope() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None and inc.status == "acknowledged" and inc.acknowledged_by == demo.alice
        kinds = [
            e.actor_user_id
            for e in s.query(IncidentEvent).filter_by(incident_id=incident_id, kind="acknowledged")
        ]
        assert kinds == [demo.alice]
