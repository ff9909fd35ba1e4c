"""`slar schedule layers / edit-layer / remove-layer` in a real subprocess: effective dates shown, an
edit from a chosen future instant, the past and offset-less instants refused in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.schedules import service
from tests import factories, infra
from tests.test_cli import one_json_line, slar


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    url = infra.create_database()
    yield url
    infra.drop_database(url)


def _setup(url: str) -> tuple[int, list[str]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        users = [factories.user(session) for _ in range(2)]
        sched = service.create_schedule(session=session, name="Cli rotation", time_zone="Europe/Berlin")
        layer = service.add_layer(
            session=session,
            schedule_id=sched.id,
            member_ids=[u.id for u in users],
            rotation_kind="daily",
            handoff_anchor=datetime(2026, 1, 5, 9),
        )
        emails = [u.email for u in users]
        session.commit()
        layer_id = layer.id
    engine.dispose()
    return layer_id, emails


def _versions(db: str) -> list[dict]:
    proc = slar("schedule", "layers", "Cli rotation", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.strip().splitlines()]


def test_edit_a_layer_from_a_future_instant_and_see_both_versions(db: str) -> None:
    layer_id, (first, second) = _setup(db)
    [only] = _versions(db)
    assert only["effective_from"] is None and only["effective_until"] is None
    when = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    edited = one_json_line(
        slar(
            "schedule",
            "edit-layer",
            str(layer_id),
            "--members",
            f"{second},{first}",
            "--effective-from",
            when.isoformat(),
            "--json",
            db=db,
        )  # fmt: skip
    )
    assert edited["layer_id"] == layer_id and datetime.fromisoformat(edited["effective_from"]) == when
    old, new = _versions(db)
    assert datetime.fromisoformat(old["effective_until"]) == when
    assert new["member_ids"] == list(reversed(old["member_ids"]))
    text = slar("schedule", "layers", "Cli rotation", db=db).stdout
    assert "from its rotation start until" in text and f"from {when.isoformat()} until open" in text

    past = slar(
        "schedule",
        "edit-layer",
        str(layer_id),
        "--members",
        first,
        "--effective-from",
        "2026-01-01T00:00+00:00",
        db=db,
    )
    naive = slar("schedule", "remove-layer", str(layer_id), "--effective-from", "2030-01-01T00:00", db=db)
    unknown = slar("schedule", "edit-layer", str(layer_id), "--members", "nobody@example.org", db=db)
    for proc, words in ((past, "in the past"), (naive, "UTC offset"), (unknown, "--members")):
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert words in proc.stderr
    assert len(_versions(db)) == 2  # nothing written by the refusals

    later = (when + timedelta(days=2)).isoformat()
    assert slar("schedule", "remove-layer", str(layer_id), "--effective-from", later, db=db).returncode == 0
    assert datetime.fromisoformat(_versions(db)[-1]["effective_until"]) == datetime.fromisoformat(later)
