"""Console page render time in Chromium: click a page, wait until Streamlit's running indicator is gone.

Full run: the demo data plus 1 M synthetic incidents (fixed seed) in a fresh database. --quick: the
demo data only. Prints one JSON object: page_render_s (page -> median seconds over the visits) and
max_page_render_s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from app.widgets import present_pages  # noqa: E402
from tests import browser, console_data  # noqa: E402
from tests.console_data import PASSWORD  # noqa: E402

# Mostly resolved history over 90 days; one in 5 000 still open, as on a healthy but busy install.
BULK_SQL = """
WITH params AS (SELECT array_agg(id ORDER BY id) AS svcs FROM services),
rows AS (
  SELECT g, now() - random() * interval '90 days' AS created, random() AS a, random() AS b
  FROM generate_series(1, %(n)s) AS g
)
INSERT INTO incidents (service_id, title, severity, status, dedup_key, alert_count, created_at, updated_at,
                       acknowledged_at, resolved_at, resolved_by_kind)
SELECT svcs[1 + g %% array_length(svcs, 1)],
       'Synthetic incident ' || g,
       (ARRAY['critical','error','warning','info'])[1 + g %% 4],
       CASE g %% 5000 WHEN 0 THEN 'triggered' WHEN 1 THEN 'acknowledged' ELSE 'resolved' END,
       'bench-' || g, 1, created, created,
       CASE WHEN g %% 5000 <> 0 THEN created + a * interval '30 minutes' END,
       CASE WHEN g %% 5000 > 1 THEN created + interval '30 minutes' + b * interval '4 hours' END,
       CASE WHEN g %% 5000 > 1 THEN 'user' END
FROM rows, params
"""


def _bulk(url: str, n: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(BULK_SQL, {"n": n})
        conn.execute("ANALYZE incidents")


def _visit_all(page, base: str, visits: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    browser.sign_in(page, base, "admin@example.test", PASSWORD)
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
    parser.add_argument("--quick", action="store_true", help="demo data only, one visit per page")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    args = parser.parse_args()
    n = 0 if args.quick else args.incidents
    visits = 1 if args.quick else 3
    with console_data.database_for_console() as url, tempfile.TemporaryDirectory() as tmp:
        console_data.build_demo()
        if n:
            _bulk(url, n)
        with browser.console_server(url, Path(tmp) / "console.log") as base, browser.chromium_page() as page:
            times = _visit_all(page, base, visits)
    render = {name: round(statistics.median(values), 3) for name, values in times.items()}
    print(
        json.dumps(
            {
                "page_render_s": render,
                "max_page_render_s": max(render.values()),
                "incidents": n + 4,
                "visits_per_page": visits,
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
