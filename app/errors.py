"""Domain errors that edges turn into 4xx answers naming the field at fault."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request the domain refuses; nothing was changed."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Invalid(DomainError):
    status_code = 422


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403
