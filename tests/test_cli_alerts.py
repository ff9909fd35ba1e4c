"""`slar silence`, `slar maintenance` and `slar page` as a user runs them: one process per command."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import infra
from tests.test_cli import one_json_line, scalar, slar


@pytest.fixture(scope="module")
def db(redis_env: dict[str, str]) -> Iterator[str]:
    url = infra.create_database()
    yield url
    infra.drop_database(url)


def test_silence_lifecycle_and_a_bad_matcher(db: str) -> None:
    made = one_json_line(
        slar(
            "silence",
            "add",
            'alertname=~"Disk.*"',
            "env!=prod",
            "--hours",
            "2",
            "--comment",
            "known",
            "--json",
            db=db,
        )
    )
    assert made["matchers"] == [
        {"name": "alertname", "op": "=~", "value": "Disk.*"},
        {"name": "env", "op": "!=", "value": "prod"},
    ]
    listed = one_json_line(slar("silence", "list", "--json", db=db))
    assert [s["id"] for s in listed["silences"]] == [made["id"]]
    longer = one_json_line(slar("silence", "extend", str(made["id"]), "--hours", "1", "--json", db=db))
    assert longer["ends_at"] > made["ends_at"]
    one_json_line(slar("silence", "expire", str(made["id"]), "--json", db=db))
    assert one_json_line(slar("silence", "list", "--json", db=db))["silences"] == []
    bad = slar("silence", "add", "alertname=~(", db=db)
    assert bad.returncode == 2 and "matchers[0].value" in bad.stderr


def test_maintenance_and_page(db: str, redis_env: dict[str, str]) -> None:
    one_json_line(slar("team", "create", "Storage", "--json", db=db))
    one_json_line(
        slar(
            "user",
            "create",
            "--email",
            "ann@example.org",
            "--name",
            "Ann",
            "--team",
            "Storage",
            "--json",
            db=db,
        )
    )
    one_json_line(slar("service", "create", "blob", "--team", "Storage", "--json", db=db))
    window = one_json_line(
        slar(
            "maintenance", "start", "--service", "blob", "--hours", "1", "--reason", "deploy", "--json", db=db
        )
    )
    assert window["reason"] == "deploy" and len(window["service_ids"]) == 1
    assert [w["id"] for w in one_json_line(slar("maintenance", "list", "--json", db=db))["windows"]] == [
        window["id"]
    ]
    one_json_line(slar("maintenance", "end", str(window["id"]), "--json", db=db))
    missing = slar("maintenance", "start", "--service", "nope", db=db)
    assert missing.returncode == 2 and "service" in missing.stderr
    paged = one_json_line(
        slar("page", "disk is full", "--user", "ann@example.org", "--json", db=db, **redis_env)
    )
    assert (
        scalar(
            db, "SELECT count(*) FROM incident_events WHERE incident_id = %s AND kind = 'paged'", paged["id"]
        )
        == 1
    )
    nobody = slar("page", "hello", "--user", "who@example.org", db=db)
    assert nobody.returncode == 2 and "who@example.org" in nobody.stderr
