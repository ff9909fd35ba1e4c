"""A small client of the agent API for the console: sessions, messages, streamed replies, tools by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import get_settings
from app.db import session_scope
from app.directory.service import create_api_key

# A turn's streamed reply ends at one of these (approval_required: the console shows the card instead).
STOP_KINDS = ("error", "interrupt", "approval_required")


class AgentUnavailable(RuntimeError):
    """The agent service did not answer."""


def agent_url() -> str:
    settings = get_settings()
    return f"http://{settings.host}:{settings.agent_port}"


def console_key(user_id: int, role: str) -> str:
    """Issue an API key for the console to talk to the agent as this user (kept by the caller)."""
    with session_scope() as s:
        _, raw = create_api_key(session=s, name="console agent panel", role=role, user_id=user_id)
        return raw


@dataclass
class AgentClient:
    key: str
    base_url: str = ""

    def __post_init__(self) -> None:
        self.base_url = self.base_url or agent_url()

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = httpx.request(
                method,
                f"{self.base_url}{path}",
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=30,
                **kw,
            )
        except httpx.HTTPError as err:
            raise AgentUnavailable(
                f"the agent service at {self.base_url} did not answer ({type(err).__name__})"
            ) from None
        if response.status_code >= 400:
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            raise AgentUnavailable(f"the agent service refused: {body.get('detail', response.status_code)}")
        return response.json() if response.content else None

    def health(self) -> dict[str, Any] | None:
        """The service's /health (needs no key), or None when it does not answer."""
        try:
            return httpx.get(f"{self.base_url}/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return None

    def post_message(self, session_id: str, content: str) -> None:
        self._request("POST", f"/sessions/{session_id}/messages", json={"content": content})

    def call_tool(self, session_id: str, tool: str, arguments: Any, wait: bool = True) -> dict[str, Any]:
        """Run a tool by hand; wait=False returns at once (the result arrives in the transcript)."""
        return self._request(
            "POST",
            f"/sessions/{session_id}/tools",
            params={"wait": str(wait).lower()},
            json={"tool": tool, "arguments": arguments},
        )

    def interrupt(self, session_id: str) -> None:
        self._request("POST", f"/sessions/{session_id}/interrupt")

    def events(self, session_id: str, after: int, timeout: float = 120.0) -> Iterator[dict[str, Any]]:
        """Messages of a session after a sequence number, live, until the turn ends or stops for approval."""
        from websockets.sync.client import connect

        url = self.base_url.replace("http", "ws", 1) + f"/ws/{session_id}?after={after}"
        with connect(url, additional_headers={"Authorization": f"Bearer {self.key}"}, open_timeout=10) as ws:
            while True:
                message = json.loads(ws.recv(timeout=timeout))
                yield message
                final_reply = message["type"] == "assistant_message" and message["seq"] is not None
                if final_reply or message["type"] in STOP_KINDS:
                    return

    def reply_stream(self, session_id: str, after: int) -> Iterator[str]:
        """Just the streamed text of the assistant's reply (for st.write_stream)."""
        streamed = False
        for message in self.events(session_id, after):
            if message["type"] == "assistant_message" and message["seq"] is None:
                streamed = True
                yield message["content"]
            elif message["type"] == "assistant_message" and not streamed:
                yield message["content"]
            elif message["type"] in STOP_KINDS:
                yield f"\n\n_{message['type'].replace('_', ' ')}_"
