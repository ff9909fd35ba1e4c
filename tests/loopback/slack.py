"""A loopback Slack Web API: chat.postMessage and chat.update, recorded; failures on demand."""

from __future__ import annotations

import itertools
from typing import Any

from tests.loopback._http import Call, LoopbackServer


class SlackServer(LoopbackServer):
    """Point WebClient(base_url=server.api_url) at it. A user id as channel opens a DM (D + id)."""

    def __init__(self) -> None:
        super().__init__()
        self._ts = itertools.count(1)
        self.fail_with: dict[str, str] = {}  # channel -> Slack error to answer with

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def handle(self, call: Call) -> tuple[int, dict[str, Any]]:
        method = call.path.split("?")[0].rsplit("/", 1)[-1]
        channel = str(call.body.get("channel", ""))
        if channel in self.fail_with:
            return 200, {"ok": False, "error": self.fail_with[channel]}
        if method == "chat.postMessage":
            dm = "D" + channel[1:] if channel.startswith("U") else channel
            return 200, {"ok": True, "channel": dm, "ts": f"{1700000000 + next(self._ts)}.000100"}
        if method == "chat.update":
            return 200, {"ok": True, "channel": channel, "ts": call.body.get("ts")}
        return 200, {"ok": False, "error": "unknown_method"}

    def posts(self) -> list[Call]:
        return self.calls_to("chat.postMessage")

    def updates(self) -> list[Call]:
        return self.calls_to("chat.update")
