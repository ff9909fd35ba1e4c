"""HTTP-only refusals of the ingest edge, in the DomainError family so one handler answers all."""

from __future__ import annotations

import math

from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError, TimeoutError

from app.errors import DomainError, Invalid


class Unauthorized(DomainError):
    status_code = 401


class TooLarge(DomainError):
    status_code = 413


class RateLimited(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: float, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = max(1, math.ceil(retry_after))


class Unavailable(DomainError):
    status_code = 503


# SQLSTATE classes and codes that mean "the database cannot take anything right now": connection
# failures, too many connections or out of resources, shutting down, not yet accepting connections.
# Deadlocks and serialization failures that survived the retries count too. Anything else (a value
# out of range, a constraint, a program limit) would fail again on a retry of the same body.
_UNAVAILABLE_CLASSES = ("08", "53", "57P", "58")
_UNAVAILABLE_CODES = {"40001", "40P01", "55P03"}


def database_error(err: SQLAlchemyError) -> DomainError:
    """A database error as the answer to give: 503 when the database is unavailable, else a 422."""
    if isinstance(err, TimeoutError | DisconnectionError):  # the pool had no connection in time
        return Unavailable("the database is unavailable; retry later")
    orig = getattr(err, "orig", None)
    code = getattr(orig, "sqlstate", None) or ""
    invalidated = isinstance(err, DBAPIError) and err.connection_invalidated
    if invalidated or not code or code in _UNAVAILABLE_CODES or code.startswith(_UNAVAILABLE_CLASSES):
        # No SQLSTATE: the server never answered (connection refused, reset, DNS).
        return Unavailable("the database is unavailable; retry later")
    diag = getattr(orig, "diag", None)
    column = getattr(diag, "column_name", None) or "body"
    return Invalid(f"this body can never be stored ({type(orig).__name__}, SQLSTATE {code})", field=column)
