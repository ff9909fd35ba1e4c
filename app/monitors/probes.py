"""Probes: run one check of a monitor against the real endpoint. Async, so a batch runs concurrently.

A probe never raises: it answers ok, fail (the target is down or wrong) or error (the check cannot
run at all, e.g. an unknown host or an unusable URL), with the latency and a short reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver
import httpx
from cryptography import x509

from app.monitors import kinds
from app.monitors.logic import HttpExpectation, dns_verdict, http_verdict, tls_verdict

MAX_BODY = 1_000_000  # keyword checks read at most this many characters of a body


@dataclass(frozen=True)
class Target:
    """What a probe needs to know about a monitor (plain data, so batches leave the session behind)."""

    monitor_id: int
    kind: str
    target: str
    config: dict[str, Any]


@dataclass(frozen=True)
class ProbeResult:
    status: str  # ok | fail | error
    latency_ms: float | None = None
    error: str | None = None


class Clients:
    """HTTP clients shared by probes on one event loop (connection reuse; one per TLS-verify setting)."""

    def __init__(self) -> None:
        self._http: dict[bool, httpx.AsyncClient] = {}

    def http(self, verify: bool) -> httpx.AsyncClient:
        if verify not in self._http:
            # Generous pool: waiting for a pooled connection would count against the target's timeout.
            limits = httpx.Limits(max_connections=2000, max_keepalive_connections=500)
            client = httpx.AsyncClient(verify=verify, limits=limits)
            # Shared across monitors, so no cookie set by one target may ride along on another check.
            client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            self._http[verify] = client
        return self._http[verify]

    async def aclose(self) -> None:
        for client in self._http.values():
            await client.aclose()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _unknown_host(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def probe_http(t: Target, clients: Clients) -> ProbeResult:
    """Request the URL; down on a wrong status, a missing or forbidden keyword, a refusal or a timeout."""
    o: kinds.HttpOptions = kinds.options("http", t.config)
    expect = HttpExpectation(o.expected_status, tuple(o.required_keywords), tuple(o.forbidden_keywords))
    start = time.perf_counter()
    try:
        response = await clients.http(o.verify_tls).request(
            o.method,
            t.target,
            headers=o.headers,
            content=o.body,
            timeout=o.timeout_s,
            follow_redirects=o.follow_redirects,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
        return ProbeResult("error", None, f"cannot run: {err}")
    except httpx.TimeoutException:
        return ProbeResult("fail", _ms(start), f"timed out after {o.timeout_s:g} s")
    except httpx.HTTPError as err:
        if _unknown_host(err):
            return ProbeResult("error", None, f"cannot run: unknown host {httpx.URL(t.target).host}")
        return ProbeResult("fail", _ms(start), f"{type(err).__name__}: {err}"[:500])
    latency = _ms(start)
    reason = http_verdict(response.status_code, response.text[:MAX_BODY], expect)
    return ProbeResult("fail" if reason else "ok", latency, reason)


def _split(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


async def _connect(t: Target, timeout: float, tls: ssl.SSLContext | None) -> tuple[Any, ProbeResult | None]:
    host, port = _split(t.target)
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, server_hostname=host if tls else None
            )
    except TimeoutError:
        return None, ProbeResult("fail", _ms(start), f"no connection within {timeout:g} s")
    except socket.gaierror:
        return None, ProbeResult("error", None, f"cannot run: unknown host {host}")
    except (OSError, ssl.SSLError) as err:
        return None, ProbeResult("fail", _ms(start), f"{type(err).__name__}: {err}"[:500])
    return writer, ProbeResult("ok", _ms(start))


async def _close(writer: Any) -> None:
    writer.close()
    # The probe has its answer; a messy close by the peer changes nothing.
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


async def probe_tcp(t: Target, clients: Clients) -> ProbeResult:
    """Open a TCP connection to host:port; down when refused or not accepted within the timeout."""
    o: kinds.TcpOptions = kinds.options("tcp", t.config)
    writer, result = await _connect(t, o.timeout_s, None)
    if writer is not None:
        await _close(writer)
    assert result is not None
    return result


async def probe_tls(t: Target, clients: Clients) -> ProbeResult:
    """Read the endpoint's real certificate; down when it expires within min_days (or already has)."""
    o: kinds.TlsOptions = kinds.options("tls", t.config)
    # The certificate's dates are the question here, not its trust chain: read it even if self-signed.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    writer, result = await _connect(t, o.timeout_s, context)
    if writer is None:
        assert result is not None
        return result
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    finally:
        await _close(writer)
    reason = tls_verdict(not_after, datetime.now(UTC), o.min_days)
    return ProbeResult("fail" if reason else "ok", result.latency_ms, reason)


async def probe_dns(t: Target, clients: Clients) -> ProbeResult:
    """Resolve the name; down on no answer or an answer other than the expected values."""
    o: kinds.DnsOptions = kinds.options("dns", t.config)
    resolver = dns.asyncresolver.Resolver(configure=o.nameserver is None)
    if o.nameserver is not None:
        resolver.nameservers = [str(o.nameserver)]
        resolver.port = o.port
    start = time.perf_counter()
    try:
        answer = await resolver.resolve(t.target, o.record_type, lifetime=o.timeout_s)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return ProbeResult("fail", _ms(start), f"no {o.record_type} records for {t.target}")
    except dns.exception.Timeout:
        return ProbeResult("fail", _ms(start), f"no DNS answer within {o.timeout_s:g} s")
    except dns.exception.DNSException as err:
        return ProbeResult("fail", _ms(start), f"{type(err).__name__}: {err}"[:500])
    latency = _ms(start)
    reason = dns_verdict((r.to_text().strip('"') for r in answer), o.expected)
    return ProbeResult("fail" if reason else "ok", latency, reason)


Probe = Callable[[Target, Clients], Awaitable[ProbeResult]]
PROBES: dict[str, Probe] = {"http": probe_http, "tcp": probe_tcp, "dns": probe_dns, "tls": probe_tls}


async def _guarded(t: Target, clients: Clients) -> ProbeResult:
    try:
        return await PROBES[t.kind](t, clients)
    except Exception as err:  # noqa: BLE001 - one broken check must not sink its whole batch
        return ProbeResult("error", None, f"cannot run: {type(err).__name__}: {err}"[:500])


async def run_batch(targets: list[Target]) -> list[ProbeResult]:
    """Run the probes of many monitors concurrently; results in the order of targets."""
    clients = Clients()
    try:
        return list(await asyncio.gather(*(_guarded(t, clients) for t in targets)))
    finally:
        await clients.aclose()


def run_checks(targets: list[Target]) -> list[ProbeResult]:
    """Run probes now, concurrently (synchronous entry for tests and one-off checks)."""
    return asyncio.run(run_batch(targets))


async def _at(when: datetime, t: Target, clients: Clients) -> tuple[datetime, ProbeResult]:
    # Sleep on the wall clock the due times are kept in; a loop, because a sleep may wake a hair early.
    while (delay := (when - datetime.now(UTC)).total_seconds()) > 0:
        await asyncio.sleep(delay + 0.001)
    started = datetime.now(UTC)
    return started, await _guarded(t, clients)


async def scheduled(
    jobs: list[tuple[Target, datetime]], clients: Clients
) -> list[tuple[datetime, ProbeResult]]:
    """Run each probe at its due time (at once when already due); (start time, result) in job order."""
    return list(await asyncio.gather(*(_at(when, t, clients) for t, when in jobs)))


def run_scheduled(jobs: list[tuple[Target, datetime]]) -> list[tuple[datetime, ProbeResult]]:
    """`scheduled` on an event loop of its own (tests and one-off runs)."""

    async def main() -> list[tuple[datetime, ProbeResult]]:
        clients = Clients()
        try:
            return await scheduled(jobs, clients)
        finally:
            await clients.aclose()

    return asyncio.run(main())
