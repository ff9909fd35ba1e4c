"""Loopback ntfy, Teams Workflows, Mattermost incoming webhooks and the Telegram Bot API on one port."""

from __future__ import annotations

import itertools
from typing import Any

from tests.loopback._http import Call, LoopbackServer

BOT_TOKEN = "123456:telegram-test-token"


class ChatServer(LoopbackServer):
    """ntfy at "/", Teams at /workflows/*, Mattermost at /hooks/*, Telegram at /bot<token>/<method>."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, call: Call) -> tuple[int, dict[str, Any]]:
        path = call.path.split("?")[0]
        if path == "/":
            return 200, {"id": f"ntfy{next(self.seq)}", "event": "message", "topic": call.body.get("topic")}
        if path.startswith("/workflows/"):
            return 202, {}
        if path.startswith("/hooks/"):
            return 200, {}
        if path == f"/bot{BOT_TOKEN}/sendMessage":
            return 200, {
                "ok": True,
                "result": {"message_id": next(self.seq), "chat": {"id": call.body["chat_id"]}},
            }
        if path == f"/bot{BOT_TOKEN}/answerCallbackQuery":
            return 200, {"ok": True, "result": True}
        if path.startswith("/bot"):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        return 404, {}

    def posts(self, prefix: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path.startswith(prefix)]
