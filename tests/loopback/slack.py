"""A loopback Slack Web API: chat.postMessage and chat.update, recorded; failures on demand."""

from __future__ import annotations

import time
from typing import Any

from tests.loopback._http import Call, LoopbackServer


class SlackServer(LoopbackServer):
    """Point WebClient(base_url=server.api_url) at it. A user id as channel opens a DM (D + id)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._last = 0.0
        self.fail_with: dict[str, str] = {}  # channel -> Slack error to answer with, always
        self.fail_next: dict[str, list[str]] = {}  # channel -> errors to answer with, once each
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> messages posted, oldest first
        self.delay_s = 0.0  # answer this much later, as a slow Slack would (widens mid-send windows)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    def handle(self, call: Call) -> tuple[int, dict[str, Any]]:
        method = call.path.split("?")[0].rsplit("/", 1)[-1]
        if self.delay_s:
            time.sleep(self.delay_s)
        channel = str(call.body.get("channel", ""))
        if channel in self.fail_with:
            return 200, {"ok": False, "error": self.fail_with[channel]}
        with self.lock:
            queued = self.fail_next.get(channel)
            error = queued.pop(0) if queued else None
        if error is not None:
            return 200, {"ok": False, "error": error}
        if method == "chat.postMessage":
            dm = _dm(channel)
            with self.lock:  # Slack's ts: the post time, unique per channel
                self._last = max(time.time(), self._last + 1e-6)
                ts = f"{self._last:.6f}"
            message = {"ts": ts, "text": call.body.get("text"), "metadata": call.body.get("metadata")}
            with self.lock:
                self.history.setdefault(dm, []).append(message)
            return 200, {"ok": True, "channel": dm, "ts": ts, "message": message}
        if method == "conversations.open":
            return 200, {"ok": True, "channel": {"id": _dm(str(call.body.get("users", "")))}}
        if method == "conversations.history":
            oldest = float(call.body.get("oldest") or 0)
            with self.lock:
                found = [m for m in self.history.get(channel, []) if float(m["ts"]) >= oldest]
            return 200, {"ok": True, "messages": list(reversed(found)), "has_more": False}
        if method == "chat.update":
            return 200, {"ok": True, "channel": channel, "ts": call.body.get("ts")}
        return 200, {"ok": False, "error": "unknown_method"}

    def posts(self) -> list[Call]:
        return self.calls_to("chat.postMessage")

    def updates(self) -> list[Call]:
        return self.calls_to("chat.update")


def _dm(channel: str) -> str:
    """The DM conversation a bot gets when it posts to a user id."""
    return "D" + channel[1:] if channel.startswith(("U", "W")) else channel
