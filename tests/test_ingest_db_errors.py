"""Which database errors ask the sender to retry (503) and which refuse the body (422), on real errors."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ingest.errors import Unavailable, database_error
from tests.test_alertmanager import free_port


def _error(engine: Engine, sql: str) -> SQLAlchemyError:
    with pytest.raises(SQLAlchemyError) as caught, engine.connect() as conn:
        conn.execute(text(sql))
    return caught.value


def test_a_body_that_can_never_be_stored_is_a_422_naming_a_field(engine: Engine) -> None:
    for sql in ("SELECT 1/0", "SELECT 'x\\u0000'::jsonb", "SELECT repeat('x', 10)::varchar(2)::int"):
        answer = database_error(_error(engine, sql))
        assert answer.status_code == 422 and answer.field, (sql, answer.message)


def test_an_unreachable_database_is_a_503() -> None:
    gone = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    answer = database_error(_error(gone, "SELECT 1"))
    assert isinstance(answer, Unavailable) and answer.status_code == 503


def test_a_pool_that_has_no_connection_in_time_is_a_503(database_url: str) -> None:
    small = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://", 1),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.1,
    )
    with small.connect():
        answer = database_error(_error(small, "SELECT 1"))
    assert answer.status_code == 503
    small.dispose()


def test_a_server_shutting_down_is_a_503(engine: Engine) -> None:
    # admin_shutdown (57P01) as Postgres raises it when it stops under a running request.
    err = _error(engine, "DO $$ BEGIN RAISE EXCEPTION 'bye' USING ERRCODE = 'admin_shutdown'; END $$")
    assert database_error(err).status_code == 503
