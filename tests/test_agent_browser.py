"""The Agent page in Chromium: browser → console → agent service → openai SDK → loopback model, streamed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.db import reset_engines, session_scope
from app.directory.service import create_user
from app.embedded import child_env, free_port
from tests import browser, infra
from tests.test_agent_support import LoopbackOpenAI, text_chunks

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
    ),
]
PASSWORD = "correct horse battery"
REPLY = "The disk on db-1 is filling up: follow the disk-full runbook and delete old logs first."


def test_a_question_typed_in_the_browser_gets_the_models_streamed_answer(
    fresh_database: str, output_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    from app.config import reset_settings

    reset_settings()
    reset_engines()
    try:
        with session_scope() as s:
            create_user(session=s, email="rita@example.test", name="Rita Responder", password=PASSWORD)
        model = LoopbackOpenAI([text_chunks(REPLY)])
        port = free_port()
        env = child_env(
            {
                "DATABASE_URL": fresh_database,
                "AGENT_PORT": str(port),
                "OPENAI_API_KEY": "sk-loopback",
                "OPENAI_BASE_URL": model.base_url,
                "DATA_DIR": str(output_dir / "agent-browser-data"),
            }
        )
        agent_args = [
            sys.executable,
            "-m",
            "uvicorn",
            "agent.service:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with (
            model.running(),
            infra.process(agent_args, env, output_dir / "agent-browser-service.log"),
            browser.console_server(
                fresh_database, output_dir / "agent-browser-console.log", {"AGENT_PORT": str(port)}
            ) as base,
            browser.chromium_page() as page,
        ):
            infra.wait_http(f"http://127.0.0.1:{port}/health", timeout=60)
            browser.sign_in(page, base, "rita@example.test", PASSWORD)
            browser.open_page(page, "Agent", "agent")
            page.get_by_role("button", name="New session").click()
            page.get_by_label("Title").fill("db-1 disk")
            previous = browser.run_number(page)
            page.get_by_role("button", name="Start").click()
            browser.finished_after(page, previous)  # a quiet spell alone can come before the run starts
            page.keyboard.press("Escape")  # close the popover so the transcript shows in the screenshot
            page.get_by_placeholder("Ask the agent about this incident…").fill("What is going on?")
            page.keyboard.press("Enter")
            page.get_by_text(REPLY).first.wait_for(timeout=60_000)
            browser.settled(page)
            page.screenshot(path=str(output_dir / "agent-page.png"))
            assert browser.exceptions(page) == []
        assert model.requests and model.requests[0]["stream"] is True
        assert model.requests[0]["messages"][-1]["content"] == "What is going on?"
    finally:
        monkeypatch.undo()
        reset_settings()
        reset_engines()
