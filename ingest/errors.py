"""HTTP-only refusals of the ingest edge, in the DomainError family so one handler answers all."""

from __future__ import annotations

import math

from app.errors import DomainError


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
