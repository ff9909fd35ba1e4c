"""Drive the console in Debian's Chromium: start `streamlit run` on loopback, sign in, open pages."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.embedded import child_env, free_port
from app.supervisor import PROCESSES
from tests.infra import process, wait_http

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
    """The console as `slar up` and `slar serve console` run it, on a free loopback port; yields its URL.

    The very command line the product uses, so what the browser sees of Streamlit's own chrome
    (toolbar mode and the like) is what a responder sees.
    """
    port = free_port()
    env = child_env({"DATABASE_URL": database_url, **(extra_env or {})})
    args = [*PROCESSES["console"].argv("127.0.0.1", port), "--server.fileWatcherType=none"]
    with process(args, env, log):
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/_stcore/health", timeout=60)
        yield base


@contextmanager
def chromium_page(viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A fresh Chromium page (tall viewport by default) in its own context, so it can open more tabs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=viewport or VIEWPORT).new_page()
            try:
                yield page
            except Exception as err:
                # CI prints only the traceback: say what the page showed when the test gave up.
                err.add_note(f"page {page.url} showed:\n{_shown(page)}")
                raise
        finally:
            browser.close()


def _shown(page: Any) -> str:
    try:
        return page.locator('[data-testid="stApp"]').inner_text(timeout=5_000)[:2_000]
    except Exception as err:  # the page may be gone or hung: the note is a courtesy, never the failure
        return f"(unreadable: {err})"


def settled(page: Any, timeout_s: float = 30.0) -> float:
    """Wait until Streamlit's running indicator is gone and stays gone briefly; returns when it went."""
    start = time.monotonic()
    deadline = start + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        stale = page.locator('[data-stale="true"]').count() > 0
        # The entry writes its run marker last: without it the first run of a page load is still going
        # (the running indicator is not always shown, so it alone does not tell).
        app_ready = (
            page.locator('[data-testid="stApp"]').count() > 0 and page.locator("#slar-run").count() > 0
        )
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


def _fill_sign_in(page: Any, email: str, password: str) -> None:
    page.get_by_role("textbox", name="E-mail").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(base)
    _fill_sign_in(page, email, password)
    page.get_by_role("heading", name="Overview").wait_for(timeout=30_000)
    finished_after(page, 0)


def sign_in_to(page: Any, base: str, email: str, password: str, target: str) -> None:
    """Open a deep link signed out, sign in on the form it leads to, and wait for that page drawn."""
    page.goto(base + target)
    _fill_sign_in(page, email, password)
    page.wait_for_url(f"**{target}")
    finished_after(page, 0)


def open_page(page: Any, title: str, url_path: str, timeout_s: float = 30.0) -> float:
    """Click a page in the sidebar menu; returns the seconds until its run finished drawing."""
    previous = run_number(page)
    start = time.monotonic()
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    if url_path:  # the default page lives at the root URL
        page.wait_for_url(f"**/{url_path}", timeout=timeout_s * 1000)
    # A run of the page being left may end after the click: wait for one of the page asked for.
    on_page = f"document.querySelector('#slar-run').dataset.page === {url_path!r}"
    page.wait_for_function(f"() => ({RUN_JS})() > {previous} && {on_page}", timeout=timeout_s * 1000)
    return finished_after(page, previous, timeout_s) - start


def choose(page: Any, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`: type it, then Enter once it alone is listed.

    Enter picks whatever is first at that moment, which under load can still be the unfiltered first
    option; the list is re-drawn while it filters, so clicking an option can miss it too.
    """
    settled(page)  # a run still drawing would close the list while it filters
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    box.locator("input").click()
    page.keyboard.type(option)
    options = page.get_by_role("option")
    deadline = time.monotonic() + 30
    while [t.strip() for t in options.all_inner_texts()] != [option]:
        assert time.monotonic() < deadline, f"{option!r} never listed alone under {label!r}"
        time.sleep(0.1)
    page.keyboard.press("Enter")


def exceptions(page: Any) -> list[str]:
    """The text of every exception box on the page."""
    boxes = page.locator('[data-testid="stException"]')
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


# Each chart's drawn texts (axis labels, titles, legends) with their boxes, and the part of its SVG that
# is actually visible: the SVG clipped by every ancestor that hides its overflow.
CHART_LABELS_JS = """() => Array.from(
  document.querySelectorAll('[data-testid="stVegaLiteChart"] svg')
).map(svg => {
  const r = svg.getBoundingClientRect();
  let box = {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  for (let el = svg.parentElement; el && el !== document.body; el = el.parentElement) {
    const style = getComputedStyle(el);
    if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
    const c = el.getBoundingClientRect();
    box = {left: Math.max(box.left, c.left), right: Math.min(box.right, c.right),
           top: Math.max(box.top, c.top), bottom: Math.min(box.bottom, c.bottom)};
  }
  const labels = Array.from(svg.querySelectorAll('text')).filter(t => t.textContent.trim()).map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent, left: b.left, right: b.right, top: b.top, bottom: b.bottom};
  });
  return {box, labels};
})"""


def chart_labels(page: Any) -> list[dict[str, Any]]:
    """Every Vega chart on the page: {"box": visible SVG box, "labels": [{"text", "left", ...}]}."""
    return page.evaluate(CHART_LABELS_JS)


def cut_chart_labels(page: Any) -> list[str]:
    """The chart texts Vega truncated ("…"), drew as NaN, or that stick out of their chart's visible box."""
    charts = chart_labels(page)
    assert charts, "no chart was drawn"
    cut = []
    for chart in charts:
        box = chart["box"]
        for label in chart["labels"]:
            # Sub-pixel overhang is anti-aliasing, not a cut: allow one pixel.
            inside = (
                label["left"] >= box["left"] - 1
                and label["right"] <= box["right"] + 1
                and label["top"] >= box["top"] - 1
                and label["bottom"] <= box["bottom"] + 1
            )
            if not inside or label["text"].endswith("…") or label["text"] == "NaN":
                cut.append(label["text"])
    return cut
