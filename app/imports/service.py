"""Remembered source ids: what makes a second import update in place and a third change nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.imports.models import SOURCES, ImportedObject


@dataclass(frozen=True)
class Ref:
    local_id: int
    fingerprint: str


def refs_of(*, session: Session, source: str) -> dict[tuple[str, str], Ref]:
    """Every object imported from a product, by (kind, source id)."""
    rows = session.scalars(select(ImportedObject).where(ImportedObject.source == source))
    return {(r.kind, r.source_id): Ref(r.local_id, r.fingerprint) for r in rows}


def remember(
    *, session: Session, source: str, kind: str, source_id: str, local_id: int, fingerprint: str
) -> None:
    """Record (or refresh) that a local object is the import of a source object."""
    row = session.scalar(
        select(ImportedObject).where(
            ImportedObject.source == source,
            ImportedObject.kind == kind,
            ImportedObject.source_id == source_id,
        )
    )
    if row is None:
        row = ImportedObject(source=source, kind=kind, source_id=source_id, local_id=local_id)
        session.add(row)
    row.local_id, row.fingerprint, row.imported_at = local_id, fingerprint, utcnow()
    session.flush()


def forget(*, session: Session, source: str, kind: str, source_id: str) -> None:
    """Drop what an import remembered of a source object that is gone (its local object removed)."""
    session.execute(
        delete(ImportedObject).where(
            ImportedObject.source == source,
            ImportedObject.kind == kind,
            ImportedObject.source_id == source_id,
        )
    )
    session.flush()


def origins(*, session: Session, kind: str) -> dict[int, str]:
    """Local id → "imported from <product>, <source id>" for one kind (for the console)."""
    rows = session.scalars(select(ImportedObject).where(ImportedObject.kind == kind))
    return {r.local_id: f"imported from {SOURCES.get(r.source, r.source)}, {r.source_id}" for r in rows}
