"""Which command lines the runner accepts: per program, the flags and operands it may take.

Pure functions. A program is allowed with the arguments its rule accepts, never with arguments that
read or write files, upload, follow redirects elsewhere, change the machine or reach a host that is
not on the runner's allow list.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

Rule = Callable[[list[str], frozenset[str]], list[str]]
_TYPES = {"A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA"}
_SECONDS = re.compile(r"^\d{1,2}(\.\d)?$")


class Refused(ValueError):
    """A command line the runner will not run, with the reason."""


def _flags_only(allowed: Iterable[str]) -> Rule:
    flags = frozenset(allowed)

    def rule(args: list[str], hosts: frozenset[str]) -> list[str]:
        for a in args:
            if a not in flags:
                raise Refused(
                    f"{a!r} is not an allowed argument (allowed: {' '.join(sorted(flags)) or 'none'})"
                )
        return args

    return rule


def _host(name: str, hosts: frozenset[str]) -> str:
    host = name.lower().rstrip(".")
    if host not in hosts:
        listed = ", ".join(sorted(hosts)) or "none (set AGENT_RUNNER_HOSTS)"
        raise Refused(f"host {host!r} is not on the runner's allow list ({listed})")
    return host


def _date(args: list[str], hosts: frozenset[str]) -> list[str]:
    for a in args:
        if a not in ("-u", "-R", "--utc", "-Iseconds") and not (a.startswith("+") and "\x00" not in a):
            raise Refused(f"{a!r} is not an allowed argument to date (setting the clock is not)")
    return args


def _curl(args: list[str], hosts: frozenset[str]) -> list[str]:
    """curl: one GET or HEAD of an http(s) URL on an allowed host; no files, uploads or redirects."""
    urls: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-I", "--head", "-s", "--silent", "-S", "--show-error", "-f", "--fail", "-i", "--include"):
            out.append(a)
        elif a in ("-m", "--max-time", "--connect-timeout") and i + 1 < len(args):
            if not _SECONDS.match(args[i + 1]):
                raise Refused(f"{a} takes a number of seconds")
            out += [a, args[i + 1]]
            i += 1
        elif a in ("-X", "--request") and i + 1 < len(args):
            if args[i + 1].upper() not in ("GET", "HEAD"):
                raise Refused("curl may only GET or HEAD")
            out += [a, args[i + 1].upper()]
            i += 1
        elif a.startswith("-"):
            raise Refused(f"{a!r} is not an allowed curl option (no -o, -d, -T, -K, -w, -L, file:)")
        else:
            urls.append(a)
        i += 1
    if len(urls) != 1:
        raise Refused("curl takes exactly one URL")
    parts = urlsplit(urls[0])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("curl may only fetch http:// or https:// URLs")
    if parts.username or parts.password:
        raise Refused("curl URLs may not carry credentials")
    _host(parts.hostname, hosts)
    # -q first: ignore any .curlrc; -g: no URL globbing ([1-1000] would be a thousand requests).
    return ["-q", "-g", "--max-redirs", "0", "--proto", "=http,https", *out, urls[0]]


def _lookup(args: list[str], hosts: frozenset[str]) -> list[str]:
    """dig / nslookup: a name on the allow list and, optionally, a record type; no files or servers."""
    names = [a for a in args if not a.startswith(("+", "-", "@")) and a.upper() not in _TYPES]
    bad = [a for a in args if a.startswith(("-", "@")) or (a.startswith("+") and a not in ("+short",))]
    if bad:
        raise Refused(f"{bad[0]!r} is not an allowed argument (only a name, a record type and +short)")
    if len(names) != 1:
        raise Refused("give exactly one name to look up")
    _host(names[0], hosts)
    return args


def _ping(args: list[str], hosts: frozenset[str]) -> list[str]:
    """ping: -c up to 10, then one allowed host."""
    if len(args) == 3 and args[0] == "-c" and args[1].isdigit() and 1 <= int(args[1]) <= 10:
        _host(args[2], hosts)
        return args
    if len(args) == 1:
        _host(args[0], hosts)
        return ["-c", "3", *args]
    raise Refused("ping takes [-c N (1-10)] HOST")


def _echo(args: list[str], hosts: frozenset[str]) -> list[str]:
    return args


RULES: dict[str, Rule] = {
    "uptime": _flags_only(("-p", "-s")),
    "df": _flags_only(("-h", "-i", "-T", "-P", "-k", "-l")),
    "free": _flags_only(("-h", "-m", "-g", "-k", "-b", "-t", "-w")),
    "hostname": _flags_only(("-f", "-s", "-i", "-I", "-d")),
    "uname": _flags_only(("-a", "-r", "-s", "-n", "-m", "-v", "-o", "-p", "-i")),
    "date": _date,
    "echo": _echo,
    "ping": _ping,
    "dig": _lookup,
    "nslookup": _lookup,
    "curl": _curl,
}
ALLOWED_COMMANDS = tuple(RULES)


def parse_command(
    command: str, hosts: Iterable[str] = (), allowed: Iterable[str] = ALLOWED_COMMANDS
) -> list[str]:
    """Split a command line without a shell; raise ValueError unless its rule accepts every argument."""
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise Refused(f"command is not well-formed: {err}") from None
    if not argv:
        raise Refused("command must not be empty")
    programs = tuple(allowed)
    if argv[0] not in programs or argv[0] not in RULES:
        raise Refused(f"{argv[0]!r} is not an allowed command ({', '.join(programs)})")
    allowed_hosts = frozenset(h.lower().rstrip(".") for h in hosts)
    return [argv[0], *RULES[argv[0]](argv[1:], allowed_hosts)]
