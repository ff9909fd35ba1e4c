"""Every console page on the demo organisation of `slar seed-demo` (its history, schedules and policies)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from analytics.export import export_configured
from app.db import session_scope
from app.directory.service import user_by_email
from app.seed import ADMIN_LOGIN, seed_demo
from app.widgets import present_pages
from tests import console_data
from tests.test_console import signed_in_app


@pytest.fixture(scope="module")
def seeded(redis_env: dict[str, str]) -> Iterator[dict[str, int]]:
    with console_data.database_for_console():
        counts = seed_demo(days=3)
        export_configured()
        yield counts


@pytest.mark.parametrize("spec", present_pages(), ids=lambda p: p.file)
def test_every_page_renders_on_the_seeded_demo(seeded: dict[str, int], spec) -> None:
    assert seeded["incidents"] > 0
    with session_scope() as s:
        admin = user_by_email(session=s, email=ADMIN_LOGIN)
        assert admin is not None
        admin_id = admin.id
        open_incident = None
        if spec.file == "incident.py":
            from app.incidents.queries import IncidentFilter, search_incidents

            rows = search_incidents(session=s, filters=IncidentFilter(statuses=()))
            open_incident = str(rows[-1].id)
    at = signed_in_app(admin_id, spec.file, **({"id": open_incident} if open_incident else {}))
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "the page drew nothing"
