"""Test hosts in Linux network namespaces: a bridge in the root namespace, one veth per host.

Only addresses this module creates are ever used: a private /24 on a bridge of its own. Postgres and
Redis listen on 127.0.0.1 only, so `forward` puts a socat relay on the bridge address in front of
them; to the hosts it is the network, and cutting a host's link cuts it off from everything.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra import ROOT


def _ip(*args: str, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns, "ip"] if netns else ["ip"]
    subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=30)


def unavailable() -> str | None:
    """None when namespaces, veth pairs and bridges can be made here; else why not (the skip message)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "socat"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = f"slarprobe{uuid.uuid4().hex[:4]}"
    try:
        _ip("netns", "add", probe)
        _ip("link", "add", f"{probe[-8:]}x", "type", "veth", "peer", "name", f"{probe[-8:]}y")
        _ip("link", "del", f"{probe[-8:]}x")
    except (subprocess.CalledProcessError, OSError) as err:
        detail = getattr(err, "stderr", b"") or str(err).encode()
        return f"cannot make network namespaces here: {detail.decode(errors='replace').strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30)
    return None


@dataclass
class Hosts:
    """Named hosts (network namespaces) on one bridge; processes run in them and can be cut off."""

    tag: str
    subnet: str  # "10.231.N": the bridge is .1, hosts .2, .3, ...
    names: list[str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    by_host: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

    @property
    def bridge_ip(self) -> str:
        return f"{self.subnet}.1"

    def ip(self, host: str) -> str:
        return f"{self.subnet}.{self.names.index(host) + 2}"

    def netns(self, host: str) -> str:
        return f"slar{self.tag}{host}"

    def veth(self, host: str) -> str:
        return f"sv{self.tag}{host}"

    def run(
        self, host: str | None, args: list[str], env: dict[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        """Start a process in a host (or, for None, in the root namespace); output goes to `log`."""
        log.parent.mkdir(parents=True, exist_ok=True)
        prefix = ["ip", "netns", "exec", self.netns(host)] if host else []
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [*prefix, *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.by_host.setdefault(host or "", []).append(proc)
        return proc

    def forward(self, port: int, log: Path) -> None:
        """Relay bridge_ip:port to 127.0.0.1:port (a service that listens on loopback only)."""
        listen = f"TCP-LISTEN:{port},bind={self.bridge_ip},fork,reuseaddr"
        self.run(None, ["socat", listen, f"TCP:127.0.0.1:{port}"], dict(os.environ), log)

    def cut(self, host: str) -> None:
        """Take the host's link down: its packets go nowhere, its connections hang as on a real cut."""
        _ip("link", "set", self.veth(host), "down")

    def kill(self, host: str) -> None:
        """kill -9 every process started in the host (whole process groups)."""
        for proc in self.by_host.get(host, []):
            _kill(proc)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                _signal(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _kill(proc)


def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        _signal(proc, signal.SIGKILL)
        proc.wait()


@contextmanager
def hosts(names: list[str]) -> Iterator[Hosts]:
    """Create the bridge and one namespace per host; remove every trace afterwards."""
    tag = uuid.uuid4().hex[:4]
    net = Hosts(tag=tag, subnet=f"10.231.{random.randrange(256)}", names=names)
    bridge = f"sb{tag}"
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{net.bridge_ip}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for host in names:
            ns, veth, peer = net.netns(host), net.veth(host), f"sp{tag}{host}"
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", ns)
            _ip("link", "set", veth, "master", bridge, "up")
            _ip("addr", "add", f"{net.ip(host)}/24", "dev", peer, netns=ns)
            _ip("link", "set", peer, "up", netns=ns)
            _ip("link", "set", "lo", "up", netns=ns)
        yield net
    finally:
        net.stop()
        for host in names:
            # A pair dies with its namespace, but only once the kernel has let go of that (async).
            subprocess.run(["ip", "link", "del", net.veth(host)], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", net.netns(host)], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, timeout=30)
