"""The Parquet export: layout, incremental watermarks, atomic files, nothing-new-writes-nothing, recovery."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from analytics.duck import connect
from analytics.export import export, last_export_at, parquet_root
from app.directory.models import User
from app.incidents import service as incidents
from tests import factories


def at(month: int, day: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=UTC)


@pytest.fixture()
def db(fresh_database: str) -> Iterator[tuple[str, Session]]:
    engine = create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine, expire_on_commit=False) as session:
        yield fresh_database, session
    engine.dispose()


def _seed(session: Session) -> tuple[int, list[int]]:
    who = factories.user(session, role="admin")
    svc = factories.service(session)
    ids = []
    for i, when in enumerate([at(2, 27, 23, 59), at(3, 1, 0, 0), at(3, 15, 12)]):
        alert = factories.alert(dedup_key=f"k{i}")
        ids.append(
            incidents.trigger_or_group(
                session=session, service_id=svc.id, dedup_key=f"k{i}", alert=alert, now=when
            ).incident.id
        )
    session.commit()
    return who.id, ids


def _listing(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_layout_and_nothing_new_writes_nothing(db: tuple[str, Session], tmp_path: Path) -> None:
    url, session = db
    _seed(session)
    first = export(database_url=url, data_dir=tmp_path)
    root = parquet_root(tmp_path)
    assert first.batch == 1
    assert first.rows["incidents"] == 3 and first.rows["incident_events"] == 3 and first.rows["alerts"] == 3
    months = sorted(p.name for p in (root / "incidents").iterdir())
    assert months == ["month=2026-02", "month=2026-03"]  # 23:59 on 02-27 stays in February (UTC)
    assert (root / "users" / "snapshot.parquet").exists()
    state = json.loads((root / "_state.json").read_text())
    assert state["batch"] == 1 and state["max_id"]["incident_events"] > 0 and state["snapshot"]
    assert not list(root.rglob("*.tmp"))
    stamp = last_export_at(tmp_path)
    assert stamp is not None and abs((datetime.now(UTC) - stamp).total_seconds()) < 600
    before = _listing(root)
    again = export(database_url=url, data_dir=tmp_path)
    assert again.files == [] and again.batch is None
    assert _listing(root) == before  # not a byte, not even the state file


def test_changed_rows_are_exported_again_and_readers_see_the_latest(
    db: tuple[str, Session], tmp_path: Path
) -> None:
    url, session = db
    who, ids = _seed(session)
    export(database_url=url, data_dir=tmp_path)
    incidents.acknowledge(session=session, incident_id=ids[1], by=who, now=at(3, 1, 0, 5))
    session.commit()
    second = export(database_url=url, data_dir=tmp_path)
    assert second.batch == 2
    assert second.rows["incidents"] == 1 and second.rows["incident_events"] == 1
    assert second.rows["alerts"] == 0 and second.rows["users"] == 0
    con = connect(tmp_path)
    rows = con.sql("SELECT id, status, acknowledged_at FROM incidents ORDER BY id").pl()
    assert rows["id"].to_list() == ids  # one row per incident, though I2 is stored twice
    assert rows.filter(pl.col("id") == ids[1])["status"].item() == "acknowledged"
    assert con.execute("SELECT count(*) FROM incident_events").fetchone() == (4,)


def test_paging_gives_the_same_rows(db: tuple[str, Session], tmp_path: Path) -> None:
    url, session = db
    _seed(session)
    report = export(database_url=url, data_dir=tmp_path / "paged", page_rows=2)
    whole = export(database_url=url, data_dir=tmp_path / "whole")
    assert report.rows == whole.rows
    paged = connect(tmp_path / "paged").sql("SELECT * FROM incidents ORDER BY id").pl()
    single = connect(tmp_path / "whole").sql("SELECT * FROM incidents ORDER BY id").pl()
    assert paged.equals(single)


def test_directory_snapshot_rewritten_only_on_change(db: tuple[str, Session], tmp_path: Path) -> None:
    url, session = db
    who, _ = _seed(session)
    export(database_url=url, data_dir=tmp_path)
    root = parquet_root(tmp_path)
    teams_before = (root / "teams" / "snapshot.parquet").stat().st_mtime_ns
    user = session.get(User, who)
    assert user is not None
    user.time_zone = "Europe/Paris"
    session.commit()
    report = export(database_url=url, data_dir=tmp_path)
    assert report.rows["users"] == 1 and report.rows["teams"] == 0
    assert (root / "teams" / "snapshot.parquet").stat().st_mtime_ns == teams_before
    zone = connect(tmp_path).execute(f"SELECT time_zone FROM users WHERE id = {who}").fetchone()
    assert zone == ("Europe/Paris",)


def test_files_of_an_uncommitted_batch_are_replaced(db: tuple[str, Session], tmp_path: Path) -> None:
    url, session = db
    _seed(session)
    export(database_url=url, data_dir=tmp_path)
    root = parquet_root(tmp_path)
    # A run that died after writing files but before saving its watermarks left these behind.
    stray = root / "incident_events" / "month=2026-03" / "part-00000002-0000.parquet"
    pl.DataFrame({"id": [1]}).write_parquet(stray)
    half = root / "incidents" / "month=2026-03" / ".part-00000002-0000.parquet.tmp"
    half.write_bytes(b"PAR1 half a file")
    report = export(database_url=url, data_dir=tmp_path)
    assert report.files == []
    assert not stray.exists() and not half.exists()
    assert connect(tmp_path).execute("SELECT count(*) FROM incident_events").fetchone() == (3,)


def test_a_second_exporter_backs_off(db: tuple[str, Session], tmp_path: Path) -> None:
    url, session = db
    _seed(session)
    root = parquet_root(tmp_path)
    root.mkdir(parents=True)
    with open(root / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        busy = export(database_url=url, data_dir=tmp_path)
    assert busy.busy and busy.files == []
    assert not (root / "_state.json").exists()
    assert export(database_url=url, data_dir=tmp_path).batch == 1


def test_views_exist_before_any_export(tmp_path: Path) -> None:
    assert last_export_at(tmp_path) is None
    con = connect(tmp_path)
    assert con.execute("SELECT count(*) FROM incidents").fetchone() == (0,)
    assert "acknowledged_at" in con.sql("SELECT * FROM incidents").columns
    assert con.execute("SELECT count(*) FROM shifts").fetchone() == (0,)


def test_export_actor_runs_on_a_worker(
    db: tuple[str, Session], tmp_path: Path, redis_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dramatiq import Worker

    from app.config import reset_settings

    url, session = db
    _seed(session)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SLAR_DATA_DIR", str(tmp_path))
    reset_settings()
    from workers.broker import broker
    from workers.dispatch import send
    from workers.export import export as export_actor

    broker.flush("export")
    assert send("export", export_actor.actor_name)
    worker = Worker(broker, queues={"export"}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        broker.join("export", timeout=60_000)
        worker.join()
    finally:
        worker.stop()
    assert (parquet_root(tmp_path) / "_state.json").exists()
    assert connect(tmp_path).execute("SELECT count(*) FROM incidents").fetchone() == (3,)
    os.environ.pop("SLAR_DATA_DIR", None)
    reset_settings()


def test_a_transaction_committing_after_the_export_is_caught_next_time(
    db: tuple[str, Session], tmp_path: Path
) -> None:
    url, session = db
    who, ids = _seed(session)
    export(database_url=url, data_dir=tmp_path)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as slow:
        # Opened (and stamped) first, committed only after a faster writer and an export ran.
        incidents.add_note(session=slow, incident_id=ids[0], by=who, text="slow", now=at(3, 20))
        incidents.acknowledge(session=session, incident_id=ids[2], by=who, now=at(3, 21))
        session.commit()
        fast = export(database_url=url, data_dir=tmp_path)
        assert fast.rows["incident_events"] == 1
        slow.commit()
    engine.dispose()
    late = export(database_url=url, data_dir=tmp_path)
    assert late.rows["incident_events"] == 1
    kinds = connect(tmp_path).execute("SELECT kind FROM incident_events ORDER BY id").fetchall()
    assert sorted(k for (k,) in kinds) == ["acknowledged", "note", "triggered", "triggered", "triggered"]


def test_slar_export_command(
    db: tuple[str, Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main
    from app.config import reset_settings

    url, session = db
    _seed(session)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SLAR_DATA_DIR", str(tmp_path))
    try:
        assert main(["export", "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        assert first["batch"] == 1 and first["rows"]["incidents"] == 3
        assert main(["export"]) == 0
        assert "nothing new" in capsys.readouterr().out
    finally:
        monkeypatch.delenv("SLAR_DATA_DIR")
        reset_settings()


def test_many_small_batches_are_compacted_without_changing_what_readers_see(
    db: tuple[str, Session], tmp_path: Path
) -> None:
    from analytics.compact import COMPACT_AT

    url, session = db
    who, ids = _seed(session)
    export(database_url=url, data_dir=tmp_path)
    compacted = []
    for i in range(COMPACT_AT - 1):  # with the first export, COMPACT_AT files in March
        incidents.snooze(
            session=session, incident_id=ids[1], by=who, duration=timedelta(minutes=5), now=at(3, 2, 0, i)
        )
        session.commit()
        compacted += export(database_url=url, data_dir=tmp_path).compacted
    month = parquet_root(tmp_path) / "incident_events" / "month=2026-03"
    name = f"compact-00000001-{COMPACT_AT:08d}.parquet"
    assert month / name in compacted
    assert parquet_root(tmp_path) / "incidents" / "month=2026-03" / name in compacted
    con = connect(tmp_path)
    assert con.execute("SELECT count(*) FROM incident_events").fetchone() == (2 + COMPACT_AT,)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM incidents").fetchone() == (3, 3)
    latest = con.execute(f"SELECT updated_at FROM incidents WHERE id = {ids[1]}").fetchone()
    assert latest == (at(3, 2, 0, COMPACT_AT - 2),)
    # The replaced small files stay one run longer (a reader may have listed them), then go.
    assert len(list(month.glob("part-*.parquet"))) == COMPACT_AT
    export(database_url=url, data_dir=tmp_path)
    assert [p.name for p in month.glob("*.parquet")] == [name]
    con = connect(tmp_path)
    assert con.execute("SELECT count(*) FROM incident_events").fetchone() == (2 + COMPACT_AT,)
    assert con.execute("SELECT count(*) FROM incidents").fetchone() == (3,)
