"""Service timers: ack timeout re-triggers, auto-resolve closes quiet incidents; once, with several
scheduler processes and worker threads racing for them."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.directory import service as directory
from app.errors import Invalid
from app.incidents import service as incidents
from app.incidents.models import Alert, Incident, IncidentEvent
from app.incidents.timers import auto_resolve_quiet, retrigger_expired_acks, set_service_timers
from tests import factories as f
from tests.infra import ROOT
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack

MINUTE_S = 0.5


def _incident(session: Session, *, ack: int | None = None, quiet: int | None = None, now=None):
    user = f.user(session)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address=f"U{user.id}")
    svc = f.service(session, policy_id=f.policy_for(session, [user]))
    set_service_timers(
        session=session, service_id=svc.id, ack_timeout_minutes=ack, auto_resolve_minutes=quiet
    )
    return incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert(), now=now
    ).incident


def _events(session: Session, incident_id: int, kind: str) -> int:
    return session.scalar(
        select(func.count()).where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind == kind)
    )


def test_an_ack_past_its_timeout_retriggers_once_and_a_new_ack_restarts_the_timer(session: Session) -> None:
    t0 = utcnow() + timedelta(days=30)
    inc = _incident(session, ack=30, now=t0)
    incidents.acknowledge(session=session, incident_id=inc.id, by=None, now=t0)
    assert (inc.id, inc.escalation_token) not in retrigger_expired_acks(
        session=session, now=t0 + timedelta(minutes=29)
    )
    token = inc.escalation_token
    kicks = retrigger_expired_acks(session=session, now=t0 + timedelta(minutes=30))
    assert (inc.id, inc.escalation_token) in kicks and inc.escalation_token != token
    assert inc.status == "triggered" and inc.current_level == 0
    # Triggered now, so the next scan leaves it alone.
    assert inc.id not in [
        k[0] for k in retrigger_expired_acks(session=session, now=t0 + timedelta(minutes=31))
    ]
    t1 = t0 + timedelta(minutes=40)
    incidents.acknowledge(session=session, incident_id=inc.id, by=None, now=t1)
    assert inc.id not in [
        k[0] for k in retrigger_expired_acks(session=session, now=t1 + timedelta(minutes=29))
    ]
    assert inc.id in [k[0] for k in retrigger_expired_acks(session=session, now=t1 + timedelta(minutes=30))]
    assert _events(session, inc.id, "ack_timeout") == 2


def test_a_quiet_incident_auto_resolves_with_its_alerts_and_a_new_alert_opens_a_new_one(
    session: Session,
) -> None:
    t0 = utcnow() + timedelta(days=30)
    inc = _incident(session, quiet=120, now=t0)
    incidents.trigger_or_group(
        session=session,
        service_id=inc.service_id,
        dedup_key="k",
        alert=f.alert(),
        now=t0 + timedelta(minutes=60),
    )
    assert inc.id not in auto_resolve_quiet(session=session, now=t0 + timedelta(minutes=150))
    assert inc.id in auto_resolve_quiet(session=session, now=t0 + timedelta(minutes=180))
    assert inc.status == "resolved" and inc.resolved_by_kind == "auto"
    firing = session.scalar(select(func.count()).where(Alert.incident_id == inc.id, Alert.status == "firing"))
    assert firing == 0
    assert inc.id not in auto_resolve_quiet(session=session, now=t0 + timedelta(minutes=500))


def test_timer_values_are_checked(session: Session) -> None:
    svc = f.service(session)
    with pytest.raises(Invalid) as err:
        set_service_timers(
            session=session, service_id=svc.id, ack_timeout_minutes=0, auto_resolve_minutes=None
        )
    assert err.value.field == "ack_timeout_minutes"


@pytest.mark.slow
def test_both_timers_fire_once_with_several_schedulers(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        acked = _incident(s, ack=4)  # 2 s
        quiet = _incident(s, quiet=6)  # 3 s
        incidents.acknowledge(session=s, incident_id=acked.id, by=None)
        acked_id, quiet_id = acked.id, quiet.id
        acked_user = f"U{acked.escalation_snapshot['levels'][0]['targets'][0]['user_id']}"
    namespace = f"{redis_env['REDIS_NAMESPACE']}-timers"
    logs = output_dir / "timers"
    with SlackServer() as slack:
        extra = {
            "SLACK_API_URL": slack.api_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLAR_ESCALATION_MINUTE_S": str(MINUTE_S),
        }
        with worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=logs,
            extra_env=extra,
            threads=4,
        ) as stack:
            args = [sys.executable, "-m", "workers.scheduler", "--every", "service-timers=0.2"]
            schedulers = [
                subprocess.Popen(
                    args,
                    env=stack.env,
                    cwd=ROOT,
                    stdout=open(logs / f"sched{i}.log", "ab"),  # noqa: SIM115 - lives with the process
                    stderr=subprocess.STDOUT,
                )
                for i in range(3)
            ]
            try:
                with Session() as s:
                    wait_for(
                        lambda: s.get(Incident, acked_id, populate_existing=True).status == "triggered",
                        60,
                        "the re-trigger",
                    )
                    wait_for(
                        lambda: s.get(Incident, quiet_id, populate_existing=True).status == "resolved",
                        60,
                        "the auto-resolve",
                    )
                time.sleep(2.0)  # many more timer runs from three schedulers
            finally:
                for p in schedulers:
                    p.terminate()
                    p.wait(timeout=10)
        with Session() as s:
            assert _events(s, acked_id, "ack_timeout") == 1
            assert _events(s, quiet_id, "resolved") == 1
            assert s.get(Incident, acked_id).status == "triggered"
        # It was acknowledged before anyone was paged, so its one page is the re-trigger's.
        assert [str(c.body["channel"]) for c in slack.posts()].count(acked_user) == 1
