"""Loopback targets for monitor tests: an HTTP server told how to answer, a TCP listener, a TLS server
with a short-lived certificate, and a DNS server (dnslib). Each runs in threads and stops on exit."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSServer
from sqlalchemy.orm import Session

from app.monitors.probes import run_checks
from app.monitors.runner import Kick, Outcome, apply_outcomes, claim_due, missed_beat


class HttpTarget:
    """An HTTP server whose answer the test sets: ok, fail (500), wrong keyword, hang, or redirect."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.hang_s = 3.0
        self.hits = 0
        self.cookies: list[str | None] = []  # the Cookie header of each request
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with target.lock:
                    target.hits += 1
                    target.cookies.append(self.headers.get("Cookie"))
                mode = target.mode
                if self.path == "/moved":
                    return self._send(302, b"", {"Location": "/"})
                if mode == "hang":
                    time.sleep(target.hang_s)
                status, body = {
                    "ok": (200, b"status: healthy"),
                    "fail": (500, b"internal error"),
                    "keyword": (200, b"status: degraded"),
                    "hang": (200, b"status: healthy"),
                }[mode]
                self._send(status, body, {"Set-Cookie": "session=from-target; Path=/"})

            do_POST = do_GET  # noqa: N815

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[HttpTarget]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def _listener(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback TCP listener handing each connection to `handle` in a thread; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            try:
                handle(conn)
            except (OSError, ssl.SSLError):
                pass  # a client that hangs up mid-handshake is the client's business
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


def tcp_listener() -> AbstractContextManager[int]:
    """A TCP port that accepts and closes connections; yields the port."""
    return _listener(lambda conn: None)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(directory: Path, days: float) -> tuple[Path, Path, dt.datetime]:
    """A certificate for localhost valid for `days` more days; returns (cert, key, not_after)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    not_after = (now + dt.timedelta(days=days)).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"cert-{days}.pem", directory / f"key-{days}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, not_after


def tls_server(cert: Path, key: Path) -> AbstractContextManager[int]:
    """A TLS listener presenting the given certificate; yields the port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handshake(conn: socket.socket) -> None:
        conn.settimeout(2)
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)

    return _listener(handshake)


class Zone(BaseResolver):
    """A DNS zone the test can change: name -> list of IPv4 addresses (A records)."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if request.q.qtype == QTYPE.A:
            for ip in self.records.get(name, []):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=1))
        return reply


@contextmanager
def dns_server(zone: Zone) -> Iterator[int]:
    """A UDP DNS server on loopback answering from `zone`; yields the port."""
    server = DNSServer(zone, port=free_port(), address="127.0.0.1")
    server.start_thread()
    try:
        yield server.server.server_address[1]
    finally:
        server.stop()


def run_due(session: Session, now: datetime) -> list[Kick]:
    """What the tick and the check actor do together, in-process: claim, probe or miss a beat, apply."""
    claims = claim_due(session=session, now=now)
    late = [missed_beat(c, now) for c in claims if c.target.kind == "heartbeat"]
    probes = [c for c in claims if c.target.kind != "heartbeat"]
    results = run_checks([c.target for c in probes])
    outcomes = [Outcome(c.target.monitor_id, c.due_at, now, r) for c, r in zip(probes, results, strict=True)]
    return apply_outcomes(session=session, outcomes=late + outcomes, now=now)
