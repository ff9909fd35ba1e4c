"""In Chromium: a responder creates an API key on the console page, the key works on /api/v1, and
revoking it from the same page stops it at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db import session_scope
from app.directory import service as directory
from ingest.app import app
from tests import browser, console_data
from tests import factories as f
from tests.console_data import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]


@pytest.fixture(scope="module")
def console(output_dir: Path, redis_env: dict[str, str]) -> Iterator[str]:
    with console_data.database_for_console() as url:
        with session_scope() as s:
            user = f.user(s, email="keys@example.test")
            directory.set_password(session=s, user_id=user.id, password=PASSWORD)
        with browser.console_server(url, output_dir / "browser-api-keys.log") as base:
            yield base


def test_key_made_in_the_browser_works_until_revoked_there(console: str, output_dir: Path) -> None:
    with browser.chromium_page() as page, TestClient(app) as api:
        browser.sign_in(page, console, "keys@example.test", PASSWORD)
        browser.open_page(page, "API keys & webhooks", "api")
        page.get_by_role("textbox", name="What the key is for").fill("chat-ops bot")
        previous = browser.run_number(page)
        page.get_by_role("button", name="Create API key").click()
        browser.finished_after(page, previous)
        assert browser.exceptions(page) == []
        shown = page.locator('[data-testid="stCode"]').first.inner_text()
        raw = re.search(r"slar_[A-Za-z0-9_-]+", shown).group(0)  # type: ignore[union-attr]
        page.screenshot(path=str(output_dir / "console-api-key-created.png"))
        me = api.get("/api/v1/users/current", headers={"Authorization": f"Bearer {raw}"})
        assert me.status_code == 200 and me.json()["email"] == "keys@example.test"
        # Read-only unless a write scope was chosen.
        assert (
            api.post("/api/v1/alert_groups/I1/acknowledge", headers={"Authorization": raw}).status_code == 403
        )
        previous = browser.run_number(page)
        page.get_by_role("button", name="Revoke key").click()
        browser.finished_after(page, previous)
        assert "revoked" in page.locator('[data-testid="stApp"]').inner_text().lower()
        gone = api.get("/api/v1/users/current", headers={"Authorization": f"Bearer {raw}"})
        assert gone.status_code == 401
