"""Concurrent triggers of one dedup key from parallel threads, each in its own transaction."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.db import session_scope
from app.incidents import service as incidents
from app.incidents.models import Alert, Incident
from tests import factories as f


def test_twenty_threads_same_dedup_key_make_one_incident(database_url: str) -> None:
    with session_scope() as s:
        service_id = f.service(s).id
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def fire(i: int) -> None:
        try:
            barrier.wait()
            with session_scope() as s:
                incidents.trigger_or_group(
                    session=s, service_id=service_id, dedup_key="disk-full", alert=f.alert(f"fp-{i}")
                )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope() as s:
        open_incidents = s.scalars(
            select(Incident).where(Incident.service_id == service_id, Incident.status != "resolved")
        ).all()
        assert len(open_incidents) == 1
        assert open_incidents[0].alert_count == 20
        stored = s.scalar(
            select(func.count()).select_from(Alert).where(Alert.incident_id == open_incidents[0].id)
        )
        assert stored == 20


def test_twenty_threads_same_alert_store_it_once(database_url: str) -> None:
    with session_scope() as s:
        service_id = f.service(s).id
    barrier = threading.Barrier(20)

    def fire() -> None:
        barrier.wait()
        with session_scope() as s:
            incidents.trigger_or_group(
                session=s, service_id=service_id, dedup_key="k", alert=f.alert("same-fp")
            )

    threads = [threading.Thread(target=fire) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_scope() as s:
        inc = s.scalars(select(Incident).where(Incident.service_id == service_id)).one()
        assert inc.alert_count == 1
        assert s.scalar(select(func.count()).select_from(Alert).where(Alert.incident_id == inc.id)) == 1
