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
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from analytics.export import export_configured  # noqa: E402
from app.db import session_scope  # noqa: E402
from app.directory.service import create_user  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from app.widgets import present_pages  # noqa: E402
from tests import browser, console_data  # noqa: E402

EMAIL, PASSWORD = "bench-admin@example.test", "bench password 1"


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


def _visit_all(page, base: str, visits: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    browser.sign_in(page, base, EMAIL, PASSWORD)
    for _ in range(visits):
        for spec in present_pages():
            if spec.hidden:
                continue
            url_path = "" if spec.file == "overview.py" else spec.file.removesuffix(".py")
            if spec.file == "overview.py":  # it is already showing after sign-in: go elsewhere first
                browser.open_page(page, "People & teams", "people")
            seconds = browser.open_page(page, spec.title, url_path)
            times.setdefault(spec.file.removesuffix(".py"), []).append(seconds)
        times.setdefault("incident", []).append(_open_incident(page))
    return times


def _open_incident(page) -> float:
    browser.open_page(page, "Incidents", "incidents")
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Open incident").click()
    previous = browser.run_number(page)
    start = time.monotonic()
    page.get_by_role("option").nth(1).click()
    page.wait_for_url("**/incident?id=*", timeout=30_000)
    return browser.finished_after(page, previous) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the demo seed instead of 1 M incidents")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    args = parser.parse_args()
    visits = 1 if args.quick else 3
    with console_data.database_for_console() as url, tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        counts = seed_demo(days=14) if args.quick else _large(url, args.incidents)
        with session_scope() as s:
            create_user(session=s, email=EMAIL, name="Bench Admin", role="admin", password=PASSWORD)
        export_configured()
        prepare_s = time.monotonic() - t
        with browser.console_server(url, Path(tmp) / "console.log") as base, browser.chromium_page() as page:
            times = _visit_all(page, base, visits)
    render = {name: round(statistics.median(values), 3) for name, values in times.items()}
    print(
        json.dumps(
            {
                "page_render_s": render,
                "max_page_render_s": max(render.values()),
                "first_visit_s": {name: round(values[0], 3) for name, values in times.items()},
                "incidents": counts["incidents"] if counts else args.incidents,
                "visits_per_page": visits,
                "prepare_s": round(prepare_s, 1),
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
