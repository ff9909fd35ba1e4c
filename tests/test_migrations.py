"""The migration chain: up, down to base, up again, and no drift from the models."""

from __future__ import annotations

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import app.models  # noqa: F401
from app.db import Base
from tests import infra


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_upgrade_downgrade_upgrade_on_empty_database() -> None:
    url = infra.create_database(migrate=False)
    try:
        cfg = infra.alembic_config(url)
        command.upgrade(cfg, "head")
        assert {"incidents", "incident_events", "alerts", "deliveries", "users"} <= _tables(url)
        command.downgrade(cfg, "base")
        assert _tables(url) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        assert "incidents" in _tables(url)
        # Upgrading an up-to-date database does nothing and does not fail.
        command.upgrade(cfg, "head")
    finally:
        infra.drop_database(url)


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
