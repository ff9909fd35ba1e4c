"""The real Debian Alertmanager, configured for PagerDuty and Opsgenie, delivering to SLAR's front doors.

Only the URL changes in the receiver (pagerduty_configs.url, opsgenie_configs.api_url): fire,
repeat and resolve must give one incident, one alert, resolved.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.incidents.models import Alert, IncidentEvent
from tests import factories as f
from tests import infra
from tests import test_alertmanager as am_tests
from tests.test_alertmanager import ALERTMANAGER, am_alert, free_port, incidents_of, post_alerts, wait_until

# The same real ingest (uvicorn) and database fixtures as the native-webhook Alertmanager test.
db = am_tests.db
ingest_url = am_tests.ingest_url

pytestmark = [
    pytest.mark.alertmanager,
    pytest.mark.skipif(not Path(ALERTMANAGER).exists(), reason="prometheus-alertmanager is not installed"),
]


def start(tmp: Path, receiver: str, output_dir: Path, name: str):  # type: ignore[no-untyped-def]
    port = free_port()
    config = tmp / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: slar\n"
        "  group_by: [alertname]\n"
        "  group_wait: 1s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 2s\n"
        "receivers:\n"
        "  - name: slar\n" + receiver
    )
    args = [
        shutil.which(ALERTMANAGER) or ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return infra.process(
        args, dict(os.environ), output_dir / f"alertmanager-{name}.log"
    ), f"http://127.0.0.1:{port}"


def counted(ingest: str, source: str, outcome: str) -> float:
    text = httpx.get(f"{ingest}/metrics", timeout=30).text
    pattern = rf'slar_ingest_alerts_total\{{outcome="{outcome}",source="{source}"\}} (\S+)'
    m = re.search(pattern, text)
    return float(m.group(1)) if m else 0.0


def _fire_repeat_resolve(db: Engine, ingest: str, am: str, service_id: int, source: str) -> None:
    infra.wait_http(f"{am}/-/ready")
    post_alerts(am, [am_alert("DiskFull", "db-1")])
    [incident] = wait_until(lambda: incidents_of(db, service_id))
    assert incident.status == "triggered" and incident.severity in ("critical", "error")
    # The repeat_interval makes Alertmanager send the same group again: stored once.
    wait_until(lambda: counted(ingest, source, "duplicate") >= 1, timeout=60)
    post_alerts(am, [am_alert("DiskFull", "db-1", ends=datetime.now(UTC).isoformat())])
    wait_until(lambda: incidents_of(db, service_id)[0].status == "resolved", timeout=60)
    time.sleep(2)  # a late repeat or resolve must not open anything new
    incidents = incidents_of(db, service_id)
    assert (
        len(incidents) == 1 and incidents[0].id == incident.id and incidents[0].resolved_by_kind == "source"
    )
    with Session(db) as s:
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.service_id == service_id)) == 1
        kinds = s.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident.id)).all()
    assert kinds.count("triggered") == 1 and kinds.count("resolved") == 1


def test_alertmanager_pagerduty_configs(
    db: Engine, ingest_url: str, tmp_path: Path, output_dir: Path
) -> None:
    with Session(db) as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        _, token = f.integration(s, svc.id, "pagerduty")
        service_id = svc.id
        s.commit()
    receiver = (
        "    pagerduty_configs:\n"
        f"      - routing_key: {token}\n"
        f"        url: {ingest_url}/v2/enqueue\n"
        "        send_resolved: true\n"
    )
    running, am = start(tmp_path, receiver, output_dir, "pagerduty")
    with running:
        _fire_repeat_resolve(db, ingest_url, am, service_id, "pagerduty")


def test_alertmanager_opsgenie_configs(db: Engine, ingest_url: str, tmp_path: Path, output_dir: Path) -> None:
    with Session(db) as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        _, token = f.integration(s, svc.id, "opsgenie")
        service_id = svc.id
        s.commit()
    receiver = (
        "    opsgenie_configs:\n"
        f"      - api_key: {token}\n"
        f"        api_url: {ingest_url}/\n"
        "        send_resolved: true\n"
        "        priority: P1\n"
    )
    running, am = start(tmp_path, receiver, output_dir, "opsgenie")
    with running:
        _fire_repeat_resolve(db, ingest_url, am, service_id, "opsgenie")
