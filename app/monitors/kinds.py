"""What each monitor kind accepts: its target's shape and its options, validated before anything is stored."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, ValidationError

from app.errors import Invalid

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=10.0, gt=0, le=60)


class HttpOptions(_Options):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expected_status: int | None = Field(default=None, ge=100, le=599)  # None: any 2xx
    follow_redirects: bool = True
    verify_tls: bool = True
    required_keywords: list[str] = Field(default_factory=list)
    forbidden_keywords: list[str] = Field(default_factory=list)


class TcpOptions(_Options):
    pass


class DnsOptions(_Options):
    record_type: Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT"] = "A"
    expected: list[str] = Field(default_factory=list)  # empty: any answer is up
    nameserver: IPvAnyAddress | None = None  # None: the system resolver
    port: int = Field(default=53, ge=1, le=65535)


class TlsOptions(_Options):
    min_days: float = Field(default=14.0, gt=0, le=3650)


class HeartbeatOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _http_target(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("target must be an http:// or https:// URL with a host", field="target")
    return target


def _host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return bool(_HOST.match(host))


def _host_port(target: str, default_port: int | None) -> str:
    host, sep, port = target.rpartition(":")
    if not sep:
        host, port = target, ""
    if not port and default_port is not None:
        port = str(default_port)
    if not host or not _host(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise Invalid("target must be host:port with a port between 1 and 65535", field="target")
    return f"{host}:{port}"


def _dns_target(target: str) -> str:
    if not _host(target):
        raise Invalid("target must be a host name", field="target")
    return target


def _no_target(target: str) -> str:
    return ""


# kind -> (options model, target normaliser). Adding a kind is one entry here and one probe.
KINDS: dict[str, tuple[type[BaseModel], Any]] = {
    "http": (HttpOptions, _http_target),
    "tcp": (TcpOptions, lambda t: _host_port(t, None)),
    "dns": (DnsOptions, _dns_target),
    "tls": (TlsOptions, lambda t: _host_port(t, 443)),
    "heartbeat": (HeartbeatOptions, _no_target),
}


def validate(kind: str, target: str, options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The normalised target and options of a monitor kind; Invalid names the field at fault."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    model, normalise = KINDS[kind]
    target = normalise((target or "").strip())
    try:
        parsed = model.model_validate(options or {})
    except ValidationError as err:
        first = err.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "config"
        raise Invalid(f"config.{name}: {first['msg']}", field=f"config.{name}") from None
    return target, parsed.model_dump(mode="json")


def options(kind: str, config: dict[str, Any]) -> Any:
    """The typed options of a stored monitor."""
    return KINDS[kind][0].model_validate(config)
