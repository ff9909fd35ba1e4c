"""A read-only HTTP client for a vendor API: GET only, 429 + Retry-After honoured, paging per vendor."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

MAX_RETRIES = 6
MAX_WAIT_S = 120.0


class SourceError(RuntimeError):
    """The source answered with an error we cannot get past (bad token, missing object, outage)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, when the source answered at all


class SourceClient:
    """GETs against one vendor API; the only verb it has is GET, so an import never writes there."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(headers=headers, timeout=30.0, transport=transport)
        self._sleep = sleep
        self.waited: list[float] = []  # Retry-After waits honoured, for the plan and tests
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON of one GET, waiting out 429s as the server asks."""
        url = path_or_url if path_or_url.startswith("http") else f"{self.base_url}{path_or_url}"
        for _ in range(MAX_RETRIES):
            self.requests += 1
            try:
                response = self._client.get(url, params=params)
            except httpx.HTTPError as err:
                raise SourceError(f"cannot reach {url}: {err}") from None
            if response.status_code == 429:
                wait = _retry_after(response.headers.get("Retry-After"))
                self.waited.append(wait)
                self._sleep(wait)
                continue
            if response.status_code >= 400:
                raise SourceError(
                    f"GET {url} answered {response.status_code}: {_error_text(response)}",
                    response.status_code,
                )
            return response.json()
        raise SourceError(f"GET {url} still rate-limited after {MAX_RETRIES} tries")

    def next_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Grafana OnCall style: {count, next, previous, results}, following `next` until null."""
        url: str | None = path
        query = params
        while url:
            page = self.get(url, query)
            yield from page.get("results", [])
            url, query = page.get("next"), None  # `next` already carries the query

    def offset_pages(
        self, path: str, key: str, params: dict[str, Any] | None = None, limit: int = 100
    ) -> Iterator[dict]:
        """PagerDuty style: limit/offset with `more`."""
        offset = 0
        while True:
            page = self.get(path, {**(params or {}), "limit": limit, "offset": offset})
            items = page.get(key, [])
            yield from items
            if not page.get("more") or not items:
                return
            offset += len(items)

    def paging_next(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Opsgenie style: {data: [...], paging: {next: url}}."""
        url: str | None = path
        query = params
        while url:
            page = self.get(url, query)
            yield from page.get("data", [])
            url, query = (page.get("paging") or {}).get("next"), None


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1), 0.0), MAX_WAIT_S)
    except ValueError:
        return 1.0  # an HTTP-date: wait a second and ask again rather than parse clocks


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "error" in body:  # PagerDuty's {"error": {"message": ...}}
        err = body["error"]
        return str(err.get("message", err) if isinstance(err, dict) else err)[:200]
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:200]
