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


def get_engine() -> Engine:
    """The process-wide engine for DATABASE_URL."""
    url = get_settings().sqlalchemy_url
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
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
