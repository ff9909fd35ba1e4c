"""Analytics count muted alerts apart: silenced and in-maintenance alerts, through the real export."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from analytics import metrics
from analytics.duck import connect
from analytics.export import export
from app.alerts.events import AlertEvent
from app.alerts.service import record_alert_events
from app.db import utcnow
from app.suppression import service as suppression
from tests import factories as f


def _event(name: str, env: str) -> AlertEvent:
    return AlertEvent(
        fingerprint=f"fp-{f.n()}",
        dedup_key=name,
        action="trigger",
        summary=name,
        labels={"alertname": name, "env": env},
    )


def test_silenced_and_maintenance_alerts_are_counted_apart(fresh_database: str, tmp_path: Path) -> None:
    engine = create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    now = utcnow()
    with Session(engine) as s:
        quiet, loud = f.service(s), f.service(s)
        quiet_in, _ = f.integration(s, quiet.id, "alertmanager")
        loud_in, _ = f.integration(s, loud.id, "alertmanager")
        suppression.create_window(
            session=s, service_ids=[quiet.id], by=None, duration=timedelta(hours=1), now=now
        )
        suppression.create_silence(
            session=s, matchers=[{"name": "env", "op": "=", "value": "staging"}], by=None,
            duration=timedelta(hours=1), now=now,
        )  # fmt: skip
        record_alert_events(
            session=s, integration=quiet_in, events=[_event("A", "prod"), _event("B", "prod")], now=now
        )
        events = [_event("C", "staging"), _event("D", "prod"), _event("E", "prod")]
        record_alert_events(session=s, integration=loud_in, events=events, now=now)
        s.commit()
        ids = quiet.id, loud.id
    engine.dispose()
    export(database_url=fresh_database, data_dir=tmp_path)
    frame = metrics.muted_alerts(connect(tmp_path))
    rows = {r["service_id"]: r for r in frame.iter_rows(named=True)}
    assert (rows[ids[0]]["alerts"], rows[ids[0]]["in_maintenance"], rows[ids[0]]["silenced"]) == (2, 2, 0)
    assert (rows[ids[1]]["alerts"], rows[ids[1]]["in_maintenance"], rows[ids[1]]["silenced"]) == (3, 0, 1)
    assert metrics.muted_alerts(connect(tmp_path / "nothing-exported")).is_empty()
