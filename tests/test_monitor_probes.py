"""Probes against real loopback endpoints: HTTP, TCP, TLS certificate expiry and DNS."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.monitors import kinds
from app.monitors.probes import ProbeResult, Target, run_checks
from tests.monitor_helpers import (
    HttpTarget,
    Zone,
    dns_server,
    free_port,
    self_signed,
    tcp_listener,
    tls_server,
)


def probe(kind: str, target: str, **config: object) -> ProbeResult:
    target, options = kinds.validate(kind, target, config)
    return run_checks([Target(1, kind, target, options)])[0]


@pytest.fixture()
def http() -> HttpTarget:
    with HttpTarget().running() as server:
        yield server


def test_http_ok_then_failing_status_then_expected_status(http: HttpTarget) -> None:
    ok = probe("http", http.url)
    assert ok.status == "ok" and ok.latency_ms is not None and ok.error is None
    http.mode = "fail"
    down = probe("http", http.url)
    assert down.status == "fail" and "status 500" in (down.error or "")
    assert probe("http", http.url, expected_status=500).status == "ok"


def test_http_required_and_forbidden_keywords(http: HttpTarget) -> None:
    assert probe("http", http.url, required_keywords=["healthy"]).status == "ok"
    http.mode = "keyword"
    missing = probe("http", http.url, required_keywords=["healthy"])
    assert missing.status == "fail" and "'healthy' not found" in (missing.error or "")
    forbidden = probe("http", http.url, forbidden_keywords=["degraded"])
    assert forbidden.status == "fail" and "'degraded' found" in (forbidden.error or "")


def test_http_hang_is_a_timeout_failure(http: HttpTarget) -> None:
    http.mode, http.hang_s = "hang", 2.0
    result = probe("http", http.url, timeout_s=0.3)
    assert result.status == "fail" and "timed out" in (result.error or "")


def test_http_redirects_followed_or_not(http: HttpTarget) -> None:
    assert probe("http", http.url + "/moved").status == "ok"
    not_followed = probe("http", http.url + "/moved", follow_redirects=False)
    assert not_followed.status == "fail" and "status 302" in (not_followed.error or "")
    assert probe("http", http.url + "/moved", follow_redirects=False, expected_status=302).status == "ok"


def test_http_post_with_body_and_headers(http: HttpTarget) -> None:
    result = probe("http", http.url, method="POST", body='{"ping": 1}', headers={"X-Check": "yes"})
    assert result.status == "ok"


def test_refused_is_down_but_unknown_host_cannot_run() -> None:
    refused = probe("http", f"http://127.0.0.1:{free_port()}/")
    assert refused.status == "fail"
    unknown = probe("http", "http://no-such-host.invalid/")
    assert unknown.status == "error" and "unknown host" in (unknown.error or "")
    assert probe("tcp", "no-such-host.invalid:80").status == "error"


def test_tcp_listener_up_and_closed_port_down() -> None:
    with tcp_listener() as port:
        assert probe("tcp", f"127.0.0.1:{port}").status == "ok"
    assert probe("tcp", f"127.0.0.1:{free_port()}", timeout_s=1).status == "fail"


def test_tls_certificate_expiring_in_five_days(tmp_path: Path) -> None:
    cert, key, not_after = self_signed(tmp_path, days=5)
    with tls_server(cert, key) as port:
        soon = probe("tls", f"127.0.0.1:{port}", min_days=14)
        assert soon.status == "fail"
        assert "expires in 4.9 days" in (soon.error or "") or "expires in 5.0 days" in (soon.error or "")
        assert probe("tls", f"127.0.0.1:{port}", min_days=3).status == "ok"


def test_dns_expected_values_from_a_loopback_server() -> None:
    zone = Zone({"app.example.test": ["10.0.0.1"]})
    with dns_server(zone) as port:
        cfg = {"nameserver": "127.0.0.1", "port": port, "timeout_s": 2}
        assert probe("dns", "app.example.test", expected=["10.0.0.1"], **cfg).status == "ok"
        zone.records["app.example.test"] = ["10.0.0.2"]
        wrong = probe("dns", "app.example.test", expected=["10.0.0.1"], **cfg)
        assert wrong.status == "fail" and "10.0.0.2" in (wrong.error or "")
        missing = probe("dns", "gone.example.test", **cfg)
        assert missing.status == "fail" and "no A records" in (missing.error or "")


def test_a_batch_keeps_the_order_of_its_targets(http: HttpTarget) -> None:
    targets = [
        Target(1, "http", http.url, kinds.validate("http", http.url, {})[1]),
        Target(
            2, "tcp", f"127.0.0.1:{free_port()}", kinds.validate("tcp", "127.0.0.1:1", {"timeout_s": 1})[1]
        ),
        Target(3, "http", "http://no-such-host.invalid/", kinds.validate("http", "http://x/", {})[1]),
    ]
    assert [r.status for r in run_checks(targets)] == ["ok", "fail", "error"]


@pytest.mark.parametrize(
    ("kind", "target", "config", "field"),
    [
        ("http", "ftp://example.com", {}, "target"),
        ("http", "https://example.com", {"method": "BREW"}, "config.method"),
        ("http", "https://example.com", {"timeout_s": 0}, "config.timeout_s"),
        ("http", "https://example.com", {"colour": "red"}, "config.colour"),
        ("tcp", "example.com", {}, "target"),
        ("tcp", "example.com:70000", {}, "target"),
        ("dns", "not a host", {}, "target"),
        ("dns", "example.com", {"record_type": "SRVX"}, "config.record_type"),
        ("dns", "example.com", {"nameserver": "bad server"}, "config.nameserver"),
        ("tls", "example.com:443", {"min_days": -1}, "config.min_days"),
        ("ping", "example.com", {}, "kind"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kind: str, target: str, config: dict, field: str) -> None:
    from app.errors import Invalid

    with pytest.raises(Invalid) as err:
        kinds.validate(kind, target, config)
    assert err.value.field == field


def test_tls_default_port_is_443() -> None:
    assert kinds.validate("tls", "example.com", {})[0] == "example.com:443"


def test_a_shared_client_carries_no_cookie_from_one_check_to_the_next(http: HttpTarget) -> None:
    import asyncio

    from app.monitors.probes import Clients, scheduled

    target = Target(1, "http", http.url, kinds.validate("http", http.url, {})[1])

    async def twice() -> None:
        clients = Clients()
        try:
            for _ in range(2):
                await scheduled([(target, datetime.now(UTC))], clients)
        finally:
            await clients.aclose()

    asyncio.run(twice())
    assert http.cookies == [None, None]
