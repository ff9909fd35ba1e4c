"""PagerDuty's error envelope for /api/v1: {"error": {"message", "code", "errors": []}}.

Routes use `ApiRoute`, so every DomainError and request validation error raised under /api/v1 is
answered in that envelope (the ingest app's own handler keeps its shape for the webhooks).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException

from app.errors import DomainError

# PagerDuty's numeric codes where one fits; the HTTP status says the rest.
CODES = {400: 2001, 401: 2006, 403: 2010, 404: 2100, 409: 2001, 422: 2001, 429: 2020, 503: 2000}
MESSAGES = {
    400: "Invalid Input Provided",
    401: "Unauthorized",
    403: "Access Denied",
    404: "Not Found",
    409: "Conflict",
    422: "Invalid Input Provided",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class ErrorBody(BaseModel):
    message: str
    code: int
    errors: list[str]
    field: str | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 403, 404, 409, 429)
}


def error_response(
    status: int, errors: list[str], *, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "error": {
            "message": MESSAGES.get(status, "Error"),
            "code": CODES.get(status, 2001),
            "errors": errors,
            "field": field,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    # ("body", "scopes", 0) -> "scopes[0]"; ("query", "perpage") -> "perpage"
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(loc[0] if loc else "body")


def from_validation(err: RequestValidationError) -> JSONResponse:
    problems = err.errors()
    fields = [_loc(tuple(p.get("loc", ()))) for p in problems]
    errors = [f"{f}: {p.get('msg', 'invalid')}" for f, p in zip(fields, problems, strict=True)]
    return error_response(400, errors, field=fields[0] if fields else None)


def from_domain(err: DomainError) -> JSONResponse:
    headers: dict[str, str] = {}
    retry_after = getattr(err, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if err.status_code == 503:
        headers["Retry-After"] = "5"
    # PagerDuty answers every invalid input with 400, whether the schema or a domain rule refused it.
    status = 400 if err.status_code == 422 else err.status_code
    return error_response(status, [err.message], field=err.field, headers=headers or None)


class ApiRoute(APIRoute):
    """A route whose refusals speak the API's error envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except RequestValidationError as err:
                response = from_validation(err)
            except DomainError as err:
                response = from_domain(err)
            except HTTPException as err:
                # FastAPI's own refusals inside a route (a body that is not JSON at all).
                response = error_response(err.status_code, [str(err.detail)], field="body")
            except DataError as err:
                # A value a column cannot hold (too long, out of range) is the input's fault.
                response = error_response(400, [f"a value does not fit: {str(err.orig).splitlines()[0]}"])
            except IntegrityError:
                # A concurrent change won a unique race: nothing of this request was kept.
                response = error_response(409, ["a conflicting change was made at the same time; retry"])
            except DBAPIError:
                response = error_response(503, ["the database is unavailable; retry later"])
                response.headers["Retry-After"] = "5"
            for name, value in getattr(request.state, "ratelimit", {}).items():
                response.headers[name] = value
            return response

        return route
