"""Database engine, session factory and the declarative base shared by every domain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import DateTime, MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.config import get_settings
from app.errors import NotFound

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def utcnow() -> datetime:
    return datetime.now(UTC)


_ENGINES: dict[str, Engine] = {}


def connect_args(idle_transaction_timeout_s: float) -> dict[str, object]:
    """libpq options for a host that may be cut off: both ends notice a dead peer within ~25 s, and
    Postgres ends a transaction left idle, so a lost host's row locks never stall the others."""
    options = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
    if idle_transaction_timeout_s > 0:
        options += f" -c idle_in_transaction_session_timeout={int(idle_transaction_timeout_s * 1000)}"
    return {
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "options": options,
    }


def get_engine() -> Engine:
    """The process-wide engine for DATABASE_URL."""
    settings = get_settings()
    url = settings.sqlalchemy_url
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(
            url,
            # No ping per checkout (a round trip on every step and send): a connection Postgres
            # dropped fails its statement, SQLAlchemy discards the whole pool, and the caller's
            # retry (an actor's, a webhook's) runs on a fresh connection.
            pool_size=10,
            max_overflow=20,
            connect_args=connect_args(settings.db_idle_transaction_timeout_s),
        )
    return _ENGINES[url]


def session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error (for edges)."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_engines() -> None:
    """Drop pooled connections (after a fork, or when tests switch databases)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def get_or_404(session: Session, model: type[T], ident: object, *, what: str, field: str) -> T:
    """The row with this primary key, or NotFound naming the field (the edges answer 404)."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{what} {ident} does not exist", field=field)
    return row
