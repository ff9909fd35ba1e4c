"""The one paging envelope: {count, next, previous, results, page_size, current_page_number, total_pages}."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
MIN_PAGE, MAX_PAGE, DEFAULT_PAGE = 25, 100, 50


class Paging(BaseModel):
    page: int
    perpage: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.perpage


def paging(
    page: int = Query(1, ge=1, le=100_000, description="1-based page number"),
    perpage: int = Query(DEFAULT_PAGE, ge=MIN_PAGE, le=MAX_PAGE, description="page size, 25 to 100"),
) -> Paging:
    return Paging(page=page, perpage=perpage)


PAGING = Depends(paging)


class Page(BaseModel, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]
    page_size: int
    current_page_number: int
    total_pages: int


def _link(request: Request, page: int) -> str:
    return str(request.url.include_query_params(page=page))


def envelope(request: Request, p: Paging, count: int, results: Sequence[Any]) -> dict[str, Any]:
    total = max(1, -(-count // p.perpage))
    return {
        "count": count,
        "next": _link(request, p.page + 1) if p.page < total else None,
        "previous": _link(request, p.page - 1) if p.page > 1 and p.page <= total + 1 else None,
        "results": list(results),
        "page_size": p.perpage,
        "current_page_number": p.page,
        "total_pages": total,
    }


def paginate(
    session: Session, request: Request, p: Paging, stmt: Select[Any], render: Callable[[Any], Any]
) -> dict[str, Any]:
    """Count and slice a select (its ORDER BY must be total, e.g. end on the id)."""
    count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(stmt.offset(p.offset).limit(p.perpage)).all()
    return envelope(request, p, count, [render(r[0] if len(r) == 1 else r) for r in rows])


def paginate_list(request: Request, p: Paging, items: Sequence[Any]) -> dict[str, Any]:
    """Page a list already in memory (small resources: teams, schedules, chains)."""
    return envelope(request, p, len(items), items[p.offset : p.offset + p.perpage])
