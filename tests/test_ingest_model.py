"""record_alert_events against a model: random batches of fire and resolve keep every invariant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.alerts import service as alerts
from app.alerts.events import AlertEvent
from app.incidents.models import Alert, Incident
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GROUP_OF = {"a": "k1", "b": "k1", "c": "k1", "d": "k2", "e": "k2"}
notice = st.tuples(st.sampled_from(sorted(GROUP_OF)), st.sampled_from(["trigger", "resolve"]))
batches = st.lists(st.lists(notice, min_size=1, max_size=8), min_size=1, max_size=8)


def _event(fp: str, action: str) -> AlertEvent:
    return AlertEvent(fingerprint=fp, dedup_key=GROUP_OF[fp], action=action, summary=fp)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches, gaps=st.lists(st.integers(0, 15), min_size=8, max_size=8))
def test_random_batches_keep_the_invariants(session, batches: list, gaps: list[int]) -> None:
    savepoint = session.begin_nested()
    try:
        svc = f.service(session)
        integ, _ = f.integration(session, svc.id, "alertmanager")
        firing: set[str] = set()  # the model: which fingerprints are firing now
        now = T0
        for batch, gap in zip(batches, gaps, strict=False):
            now += timedelta(minutes=gap)
            result = alerts.record_alert_events(
                session=session, integration=integ, events=[_event(fp, a) for fp, a in batch], now=now
            )
            assert len(result.outcomes) == len(batch)
            for fp, action in batch:
                (firing.add if action == "trigger" else firing.discard)(fp)
            _check(session, integ.id, svc.id, firing)
    finally:
        savepoint.rollback()


def _check(session, integration_id: int, service_id: int, firing: set[str]) -> None:
    rows = session.execute(
        select(Alert.fingerprint, Alert.incident_id).where(
            Alert.integration_id == integration_id, Alert.status == "firing"
        )
    ).all()
    assert sorted(fp for fp, _ in rows) == sorted(firing)  # one firing row per firing fingerprint
    incidents = session.scalars(select(Incident).where(Incident.service_id == service_id)).all()
    open_by_key: dict[str, int] = {}
    for inc in incidents:
        attached = session.scalar(select(func.count()).select_from(Alert).where(Alert.incident_id == inc.id))
        assert inc.alert_count == attached
        firing_here = {fp for fp, i in rows if i == inc.id}
        # Auto-resolve: an incident is open exactly while one of its alerts fires.
        assert (inc.status != "resolved") == bool(firing_here), (inc.id, inc.status, firing_here)
        if inc.status != "resolved":
            assert inc.dedup_key not in open_by_key
            open_by_key[inc.dedup_key] = inc.id
            assert all(GROUP_OF[fp] == inc.dedup_key for fp in firing_here)
