"""The console says where an imported person, team, schedule, policy, service or integration came from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.db import session_scope
from app.directory import service as directory
from app.escalation.queries import list_policies
from app.imports import service as imports
from app.schedules import service as schedules
from tests import console_data, factories
from tests.console_data import Demo
from tests.test_people_rules import _app


@pytest.fixture(scope="module")
def demo(redis_env: dict[str, str]) -> Iterator[Demo]:
    with console_data.database_for_console():
        yield console_data.build_demo()


def test_people_and_schedules_show_the_source_of_imported_objects(demo: Demo) -> None:
    with session_scope() as s:
        first = schedules.list_schedules(session=s)[0]
        imports.remember(
            session=s,
            source="oncall",
            kind="user",
            source_id="U4DNY931HHJS5",
            local_id=demo.alice,
            fingerprint="x",
        )
        imports.remember(
            session=s,
            source="pagerduty",
            kind="schedule",
            source_id="P1X2Y3Z",
            local_id=first.id,
            fingerprint="x",
        )
    people = _app(demo.alice, "people.py")
    assert not people.exception, [e.value for e in people.exception]
    assert any(c.value == "imported from Grafana OnCall, U4DNY931HHJS5" for c in people.caption)
    table = people.dataframe[0].value
    assert "imported from Grafana OnCall, U4DNY931HHJS5" in set(table["source"]) and "SLAR" in set(
        table["source"]
    )
    page = _app(demo.alice, "schedules.py")
    assert not page.exception, [e.value for e in page.exception]
    assert any(c.value == "imported from PagerDuty, P1X2Y3Z" for c in page.caption)


def test_teams_escalation_services_and_integrations_show_their_source(demo: Demo) -> None:
    with session_scope() as s:
        for svc in directory.list_services(session=s):  # the demo's services have no integration yet
            if not directory.list_integrations(session=s, service_id=svc.id):
                factories.integration(s, svc.id, "generic")
        made = {
            "team": [t.id for t in directory.list_teams(session=s)],
            "escalation_chain": [p.id for p in list_policies(session=s)],
            "route": [svc.id for svc in directory.list_services(session=s)],
            "integration": [
                i.id
                for svc in directory.list_services(session=s)
                for i in directory.list_integrations(session=s, service_id=svc.id)
            ],
        }
        for kind, ids in made.items():
            assert ids, kind
            for n, local_id in enumerate(ids):
                imports.remember(
                    session=s,
                    source="opsgenie",
                    kind=kind,
                    source_id=f"{kind}-{n}",
                    local_id=local_id,
                    fingerprint="x",
                )
    shown: dict[str, set[str]] = {}
    for page in ("people.py", "escalation.py", "services.py"):
        at = _app(demo.alice, page)
        assert not at.exception, [e.value for e in at.exception]
        shown[page] = {c.value for c in at.caption if c.value.startswith("imported from Opsgenie, ")}
    assert any(c.startswith("imported from Opsgenie, team-") for c in shown["people.py"]), shown
    assert any(c.startswith("imported from Opsgenie, escalation_chain-") for c in shown["escalation.py"]), (
        shown
    )
    assert any(c.startswith("imported from Opsgenie, route-") for c in shown["services.py"]), shown
    assert any(c.startswith("imported from Opsgenie, integration-") for c in shown["services.py"]), shown
