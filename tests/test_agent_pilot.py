"""The AI pilot: one first look per incident, read-only tools only, stored as an ai_analysis event."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from agent.embeddings import LocalEmbeddingFunction
from agent.pilot import first_look
from agent.runbooks import RunbookIndex
from app.assistant.service import incidents_awaiting_analysis
from app.config import reset_settings
from app.db import session_scope, utcnow
from app.incidents import service as incidents
from tests import factories
from tests.test_agent_support import INJECTION, RecordingClient, call, make_world

SAMPLES = Path(__file__).resolve().parent.parent / "agent" / "sample_runbooks"


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> RunbookIndex:
    index = RunbookIndex(tmp_path_factory.mktemp("pilot") / "chroma", ef=LocalEmbeddingFunction())
    root = tmp_path_factory.mktemp("rb")
    (root / "disk-full.md").write_text((SAMPLES / "storage" / "disk-full.md").read_text())
    (root / "high-cpu.md").write_text((SAMPLES / "compute" / "high-cpu.md").read_text())
    index.index_directory(root, "https://git.example.test/runbooks")
    return index


def _events(incident_id: int) -> list:
    with session_scope() as s:
        return [e for e in incidents.timeline(session=s, incident_id=incident_id)]


def test_first_look_without_a_model_finds_runbooks_and_similar_incidents(
    database_url: str, sample_index: RunbookIndex
) -> None:
    world = make_world("Disk almost full on db-1")
    with session_scope() as s:
        past = incidents.trigger_or_group(
            session=s,
            service_id=world.service_id,
            dedup_key="old",
            alert=factories.alert(summary="Disk full on db-2"),
        ).incident
        incidents.resolve(session=s, incident_id=past.id, by=None)
        description = incidents.get_incident(session=s, incident_id=world.incident_id).description
    data = asyncio.run(
        first_look(world.incident_id, client_factory=lambda: None, index_factory=lambda: sample_index)
    )
    assert data is not None
    assert data["runbooks"][0]["path"] == "disk-full.md"
    assert data["runbooks"][0]["link"] == "https://git.example.test/runbooks/disk-full.md"
    assert [p["id"] for p in data["similar_incidents"]] == [past.id]
    assert "## Similar past incidents" in data["analysis"] and data["cost_usd"] == 0
    # Once only: a second delivery stores nothing more; the description is never rewritten.
    assert (
        asyncio.run(
            first_look(world.incident_id, client_factory=lambda: None, index_factory=lambda: sample_index)
        )
        is None
    )
    kinds = [e.kind for e in _events(world.incident_id)]
    assert kinds.count("ai_analysis") == 1
    with session_scope() as s:
        assert incidents.get_incident(session=s, incident_id=world.incident_id).description == description


def test_first_look_with_a_model_uses_read_only_tools_only(
    database_url: str, sample_index: RunbookIndex
) -> None:
    world = make_world(INJECTION)
    i = world.incident_id
    client = RecordingClient(
        [
            call("p1", "get_alerts", {"incident_id": i}),
            call("p2", "acknowledge_incident", {"incident_id": i}),  # not in the pilot's workbench
            call("p3", "delete_database", {}),
            "## Summary\nDisk filling up on db-1.",
            "## Summary\nDisk filling up on db-1.",
        ]
    )
    data = asyncio.run(first_look(i, client_factory=lambda: client, index_factory=lambda: sample_index))
    assert data is not None and data["analysis"].startswith("## Summary")
    assert data["prompt_tokens"] > 0 and data["completion_tokens"] > 0
    events = _events(i)
    assert [e.data["tool"] for e in events if e.kind == "agent_action"] == ["get_alerts"]
    assert all(e.kind != "acknowledged" for e in events)
    with session_scope() as s:
        assert incidents.get_incident(session=s, incident_id=i).status == "triggered"
    # The injected text reached the model only inside the quoted facts.
    first_prompt = client.seen[0][-1].content
    assert "IGNORE PREVIOUS" in first_prompt and "\\u003c/tool_call_data\\u003e" in first_prompt


@pytest.fixture()
def pilot_on(monkeypatch: pytest.MonkeyPatch, redis_env: dict, database_url: str) -> Iterator[None]:
    monkeypatch.setenv("AGENT_PILOT_ENABLED", "true")
    reset_settings()
    yield
    monkeypatch.delenv("AGENT_PILOT_ENABLED")
    reset_settings()


def test_the_sweep_queues_incidents_without_a_first_look(pilot_on: None) -> None:
    from workers.broker import broker
    from workers.pilot import analyse_incident, pilot_sweep

    assert analyse_incident.queue_name == pilot_sweep.queue_name == "agent"
    world = make_world()
    with session_scope() as s:
        waiting = incidents_awaiting_analysis(session=s, since=utcnow() - timedelta(hours=1), limit=10_000)
    assert world.incident_id in waiting
    broker.flush("agent")
    pilot_sweep.fn()
    # One message per waiting incident, oldest first, up to the sweep's batch of 100 (other tests in
    # this database may have left more waiting; the rest go on the next sweep).
    assert broker.do_qsize("agent") == min(len(waiting), 100)
    broker.flush("agent")


def test_the_actor_stores_one_first_look_only_when_enabled(
    redis_env: dict, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from agent.runbooks import default_index
    from workers.pilot import analyse_incident

    world = make_world()
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AGENT_PILOT_ENABLED", raising=False)
    reset_settings()
    default_index.cache_clear()
    try:
        analyse_incident.fn(world.incident_id)
        assert [e.kind for e in _events(world.incident_id)].count("ai_analysis") == 0
        monkeypatch.setenv("AGENT_PILOT_ENABLED", "true")
        reset_settings()
        analyse_incident.fn(world.incident_id)
        analyse_incident.fn(world.incident_id)  # a redelivered message
        assert [e.kind for e in _events(world.incident_id)].count("ai_analysis") == 1
        assert (tmp_path / "chroma").is_dir()
    finally:
        monkeypatch.undo()
        reset_settings()
        default_index.cache_clear()
    assert analyse_incident.options["max_retries"] == 3
