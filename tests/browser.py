"""Drive the console in Debian's Chromium: start `streamlit run` on loopback, sign in, open pages."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.embedded import child_env, free_port
from tests.infra import ROOT, process, wait_http

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Tall, because Streamlit scrolls inside its own container and full-page shots show the viewport only.
VIEWPORT = {"width": 1440, "height": 2200}


def chromium_missing() -> bool:
    return not os.path.exists(CHROMIUM)


@contextmanager
def console_server(database_url: str, log: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app/console.py` on a free loopback port; yields its base URL."""
    port = free_port()
    env = child_env({"DATABASE_URL": database_url, **(extra_env or {})})
    args = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app" / "console.py"),
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ]
    with process(args, env, log):
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/_stcore/health", timeout=60)
        yield base


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A fresh Chromium page with a tall viewport."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport=VIEWPORT)
        finally:
            browser.close()


def settled(page: Any, timeout_s: float = 30.0) -> float:
    """Wait until Streamlit's running indicator is gone and stays gone briefly; returns when it went."""
    start = time.monotonic()
    deadline = start + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        stale = page.locator('[data-stale="true"]').count() > 0
        app_ready = page.locator('[data-testid="stApp"]').count() > 0
        now = time.monotonic()
        if app_ready and not running and not stale:
            quiet_since = quiet_since or now
            # Streamlit shows the indicator only after a short delay: require a quiet spell.
            if now - quiet_since >= 0.25:
                return quiet_since
        else:
            quiet_since = None
        time.sleep(0.05)
    raise TimeoutError("the console kept running for longer than the timeout")


RUN_JS = "() => Number(document.querySelector('#slar-run')?.dataset.run || 0)"


def run_number(page: Any) -> int:
    """How many full runs the console has finished in this browser session (the entry's marker)."""
    return int(page.evaluate(RUN_JS))


def finished_after(page: Any, previous: int, timeout_s: float = 30.0) -> float:
    """Wait for a full run newer than `previous`, then for the page to settle; returns when the run ended."""
    page.wait_for_function(f"() => ({RUN_JS})() > {previous}", timeout=timeout_s * 1000)
    done = time.monotonic()
    settled(page, timeout_s)
    return done


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(base)
    page.get_by_role("textbox", name="E-mail").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for(timeout=30_000)
    finished_after(page, 0)


def open_page(page: Any, title: str, url_path: str, timeout_s: float = 30.0) -> float:
    """Click a page in the sidebar menu; returns the seconds until its run finished drawing."""
    previous = run_number(page)
    start = time.monotonic()
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    if url_path:  # the default page lives at the root URL
        page.wait_for_url(f"**/{url_path}", timeout=timeout_s * 1000)
    return finished_after(page, previous, timeout_s) - start


def exceptions(page: Any) -> list[str]:
    """The text of every exception box on the page."""
    boxes = page.locator('[data-testid="stException"]')
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]
