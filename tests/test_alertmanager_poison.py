"""A real Alertmanager group of one healthy alert and one with a NUL in its summary stores both."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.incidents.models import Alert
from tests import factories as f
from tests import infra
from tests.test_alertmanager import (
    am_alert,
    db,
    ingest_url,
    post_alerts,
    pytestmark,
    start_alertmanager,
    wait_until,
)

__all__ = ["db", "ingest_url", "pytestmark"]


def test_a_nul_in_one_alert_does_not_hold_its_group_hostage(
    db: Engine, ingest_url: str, tmp_path: Path, output_dir: Path
) -> None:
    with Session(db) as s:
        u = f.user(s)
        svc = f.service(s, policy_id=f.policy_for(s, [u]))
        _, token = f.integration(s, svc.id, "alertmanager")
        service_id = svc.id
        s.commit()
    running, am = start_alertmanager(tmp_path, f"{ingest_url}/webhooks/alertmanager/{token}", output_dir)
    with running:
        infra.wait_http(f"{am}/-/ready")
        poisoned = am_alert("DiskFull", "db-2")
        poisoned["annotations"]["summary"] = "disk\u0000full on db-2"
        post_alerts(am, [am_alert("DiskFull", "db-1"), poisoned])

        def stored() -> list[Alert]:
            with Session(db) as s:
                rows = list(s.scalars(select(Alert).where(Alert.service_id == service_id).order_by(Alert.id)))
            return rows if len(rows) == 2 else []

        alerts = {a.labels["instance"]: a for a in wait_until(stored)}
    assert alerts["db-1"].summary == "DiskFull on db-1" and alerts["db-1"].sanitised == []
    assert alerts["db-2"].summary == "diskfull on db-2"
    assert "summary: NUL removed" in alerts["db-2"].sanitised
    assert alerts["db-1"].incident_id == alerts["db-2"].incident_id is not None
