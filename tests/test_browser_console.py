"""The console in a real browser: Debian Chromium against `streamlit run` on loopback."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from analytics.export import export_configured
from app.db import session_scope
from app.embedded import child_env, free_port
from app.incidents.models import Incident, IncidentEvent
from app.widgets import REFRESH_SECONDS, present_pages
from tests import browser, console_data, infra
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
        export_configured()  # so the Analytics page has numbers to draw
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
            url_path = "" if spec.file == "overview.py" else spec.file.removesuffix(".py")
            browser.open_page(page, spec.title, url_path)
            assert browser.exceptions(page) == [], spec.file
            page.screenshot(path=str(output_dir / f"console-{spec.file.removesuffix('.py')}.png"))
            seen.append(spec.file)
        assert {"overview.py", "incidents.py", "people.py"} <= set(seen)


@pytest.fixture(scope="module")
def ingest(console, redis_env: dict[str, str], output_dir: Path) -> Iterator[str]:
    """The ingest app under uvicorn on the console's database; yields an Alertmanager webhook URL."""
    from app.directory import service as directory

    with session_scope() as s:
        service_id = directory.list_services(session=s)[-1].id  # "postgres", Storage's service
        integration, token = directory.create_integration(
            session=s, service_id=service_id, kind="alertmanager", name="prod alertmanager"
        )
    port = free_port()
    env = child_env({"DATABASE_URL": os.environ["DATABASE_URL"], **redis_env})
    args = [sys.executable, "-m", "uvicorn", "ingest.app:app", "--host", "127.0.0.1", "--port", str(port)]
    with infra.process(args, env, output_dir / "browser-ingest.log"):
        base = f"http://127.0.0.1:{port}"
        infra.wait_http(base + "/health")
        yield f"{base}/webhooks/alertmanager/{token}"


def _alertmanager_payload(summary: str) -> dict:
    payload = json.loads((infra.ROOT / "tests" / "payloads" / "alertmanager" / "firing.json").read_text())
    payload["alerts"] = payload["alerts"][:1]
    payload["alerts"][0]["annotations"]["summary"] = summary
    payload["alerts"][0]["labels"]["alertname"] = "InodeExhaustion"
    payload["alerts"][0]["fingerprint"] = "e2e0c0ffee000001"
    payload["commonAnnotations"]["summary"] = summary
    return payload


def test_alertmanager_webhook_appears_live_and_is_acknowledged_from_the_browser(
    console, ingest: str, output_dir: Path
) -> None:
    base, demo = console
    summary = "Inode exhaustion on db-7"
    with browser.chromium_page() as page:
        browser.sign_in(page, base, "alice@example.test", PASSWORD)
        browser.open_page(page, "Incidents", "incidents")
        answer = httpx.post(ingest, json=_alertmanager_payload(summary), timeout=10)
        assert answer.status_code == 202, answer.text
        # The list refreshes itself: no reload, no click.
        page.get_by_text(summary).first.wait_for(state="attached", timeout=REFRESH_SECONDS * 3 * 1000)
        previous = browser.run_number(page)
        page.get_by_role("link", name=summary).click()
        page.wait_for_url("**/incident?id=*", timeout=30_000)
        page.get_by_role("heading", name=summary).wait_for(timeout=30_000)
        browser.finished_after(page, previous)
        previous = browser.run_number(page)
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("Acknowledged.").wait_for(timeout=30_000)
        browser.finished_after(page, previous)
        page.get_by_role("tab", name="Alerts (1)").click()
        page.get_by_text("runbook").first.wait_for(timeout=10_000)
        page.screenshot(path=str(output_dir / "console-incident-acknowledged.png"))
        assert browser.exceptions(page) == []
    with session_scope() as s:
        inc = s.query(Incident).filter_by(title=summary).one()
        assert inc.status == "acknowledged" and inc.acknowledged_by == demo.alice
        events = s.query(IncidentEvent).filter_by(incident_id=inc.id, kind="acknowledged").all()
        assert [e.actor_user_id for e in events] == [demo.alice]
