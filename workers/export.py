"""The export actor: copy what changed in Postgres into the Parquet files analytics reads."""

from __future__ import annotations

import logging

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from analytics.export import export_configured

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="export", actor_name="export", max_retries=3, time_limit=30 * 60_000)
def export() -> None:
    """Run one incremental export; a concurrent run already in progress makes this one a no-op."""
    report = export_configured()
    if report.busy:
        log.debug("export skipped: another export is running")
        return
    written = {k: v for k, v in report.rows.items() if v}
    # A periodic job: a batch that wrote nothing is not news (kept at debug so `slar up` stays quiet).
    (log.info if written else log.debug)("export batch %s wrote %s", report.batch, written)
