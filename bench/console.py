"""Console page render time in Chromium: click a page, wait until its run has finished drawing.

Full run: the analytics benchmark's data set (1 M incidents, 10 M events, fixed seed) in a fresh
database, exported to Parquet. --quick: the demo seed (`slar seed-demo`, 14 days). Prints one JSON
object: page_render_s (page -> median seconds over the visits), max_page_render_s, and the first
(cold cache) visit of each page.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

from analytics.export import export_configured  # noqa: E402
from app.db import session_scope  # noqa: E402
from app.directory.service import create_user  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from app.warmup import WARM_DONE  # noqa: E402
from app.widgets import present_pages  # noqa: E402
from tests import browser, console_data  # noqa: E402

EMAIL, PASSWORD = "bench-admin@example.test", "bench password 1"
TIMEOUT_S = 120.0


def _analytics_bench():  # type: ignore[no-untyped-def]
    """bench/analytics.py as a module (its name would clash with the analytics package)."""
    spec = importlib.util.spec_from_file_location("bench_analytics", ROOT / "bench" / "analytics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _large(url: str, n: int) -> None:
    data = _analytics_bench()
    with psycopg.connect(url) as conn:
        data.seed_directory(conn)
        data.seed_incidents(conn, np.random.default_rng(20260301), 1, n)
        # The data set writes its own ids; move the sequences on before the services add rows.
        for table in ("users", "teams", "services"):
            conn.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def _visit_all(page, base: str, visits: int) -> dict[str, list[float | None]]:
    """Median-able render times per page; None where a page did not finish within the timeout."""
    times: dict[str, list[float | None]] = {}
    browser.sign_in(page, base, EMAIL, PASSWORD)
    for _ in range(visits):
        for spec in present_pages():
            if spec.hidden:
                continue
            url_path = "" if spec.file == "overview.py" else spec.file.removesuffix(".py")
            if spec.file == "overview.py":  # it is already showing after sign-in: go elsewhere first
                browser.open_page(page, "People & teams", "people", TIMEOUT_S)
            times.setdefault(spec.file.removesuffix(".py"), []).append(_timed(page, spec.title, url_path))
        times.setdefault("incident", []).append(_open_incident(page))
    return times


def _timed(page, title: str, url_path: str) -> float | None:
    try:
        return browser.open_page(page, title, url_path, TIMEOUT_S)
    except PlaywrightError:
        print(f"{title} did not finish within {TIMEOUT_S} s", file=sys.stderr)
        return None


def _open_incident(page) -> float | None:
    browser.open_page(page, "Incidents", "incidents", TIMEOUT_S)
    previous = browser.run_number(page)
    start = time.monotonic()
    # The first incident card's title link opens the detail page.
    page.locator('[class*="st-key-incident_"]').first.get_by_role("link").click()
    try:
        page.wait_for_url("**/incident?id=*", timeout=TIMEOUT_S * 1000)
        return browser.finished_after(page, previous, TIMEOUT_S) - start
    except PlaywrightError:
        return None


def _wait_warm(log: Path) -> float:
    """Seconds until the console's log says its pages' modules are imported (app/warmup.py)."""
    start = time.monotonic()
    while WARM_DONE not in log.read_text(errors="replace"):
        if time.monotonic() - start > TIMEOUT_S:
            raise TimeoutError(f"the console did not finish its warm-up within {TIMEOUT_S} s")
        time.sleep(0.1)
    return round(time.monotonic() - start, 2)


def _median(values: list[float | None]) -> float | None:
    done = [v for v in values if v is not None]
    return round(statistics.median(done), 3) if len(done) == len(values) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the demo seed instead of 1 M incidents")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument(
        "--wait-warm",
        action="store_true",
        help="sign in once the console has pre-imported its pages' modules, as a person arriving later would",
    )
    args = parser.parse_args()
    # A stopped run still drops its database and stops its console (the blocks below clean up on exit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    visits = 1 if args.quick else 3
    with console_data.database_for_console() as url, tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        counts = seed_demo(days=14) if args.quick else _large(url, args.incidents)
        with session_scope() as s:
            create_user(session=s, email=EMAIL, name="Bench Admin", role="admin", password=PASSWORD)
        export_configured()
        prepare_s = time.monotonic() - t
        log = Path(tmp) / "console.log"
        with browser.console_server(url, log) as base, browser.chromium_page() as page:
            warm_wait_s = _wait_warm(log) if args.wait_warm else None
            times = _visit_all(page, base, visits)
    render = {name: _median(values) for name, values in times.items()}
    finished = [v for v in render.values() if v is not None]
    print(
        json.dumps(
            {
                "page_render_s": render,
                # A page that did not finish (null above) makes the maximum null too: no flattering figure.
                "max_page_render_s": max(finished) if len(finished) == len(render) else None,
                "first_visit_s": {n: None if v[0] is None else round(v[0], 3) for n, v in times.items()},
                "incidents": counts["incidents"] if counts else args.incidents,
                "visits_per_page": visits,
                "prepare_s": round(prepare_s, 1),
                "quick": args.quick,
                # Seconds from the console answering until its pages' modules were in (None: not waited).
                "warm_wait_s": warm_wait_s,
            }
        )
    )


if __name__ == "__main__":
    main()
