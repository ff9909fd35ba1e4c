"""Runbooks: Markdown chunking, the local MiniLM embeddings, git and directory indexing through the API."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from agent.embeddings import LocalEmbeddingFunction, local_model
from agent.runbooks import RunbookIndex, chunk_markdown, is_git_location
from agent.runtime import AgentRuntime
from agent.service import create_app
from app.db import session_scope
from app.runbooks.service import list_sources
from tests.test_agent_support import World, make_world

DISK = (
    "# Disk full\n\nWhen a volume fills up.\n\n## Diagnose\n\nRun `df -h`.\n\n"
    "## Mitigate\n\nDelete old logs.\n"
)
CPU = "# High CPU\n\nProcessor saturated.\n\n## Diagnose\n\nRun `top` to find the hot process.\n"
CERT = "# TLS certificate expiry\n\nRenew with certbot before the certificate expires.\n"


def test_markdown_is_chunked_by_heading_with_its_trail() -> None:
    text = (
        "# Title\n\nIntro.\n\n## A\n\nalpha\n\n```sh\n# not a heading\n```\n\n"
        "### A1\n\ndeep\n\n## B\n\nbeta\n"
    )
    chunks = chunk_markdown(text)
    assert [c.heading for c in chunks] == ["Title", "Title > A", "Title > A > A1", "Title > B"]
    assert "# not a heading" in chunks[1].text and chunks[3].text == "Title > B\n\nbeta"
    long = "# L\n\n" + "\n\n".join(f"paragraph {i} " + "x" * 300 for i in range(12))
    assert len(chunk_markdown(long)) > 1 and all(len(c.text) < 1700 for c in chunk_markdown(long))
    assert chunk_markdown("") == []


def test_local_embeddings_match_minilm_and_rank_meaning() -> None:
    model = local_model()
    ref = model.encode(["This is an example sentence"])[0]
    # The first values sentence-transformers' all-MiniLM-L6-v2 gives for this sentence.
    assert np.allclose(ref[:5], [0.0676569, 0.0634959, 0.0487131, 0.0793050, 0.0374480], atol=1e-4)
    a, b, c = model.encode(
        [
            "The database disk is almost full",
            "Postgres volume is running out of space",
            "A cat sleeps on the sofa",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.3
    assert np.allclose(np.linalg.norm(model.encode(["x", "longer text here"]), axis=1), 1.0, atol=1e-5)
    # Padding to the longest text in a batch must not change a short text's embedding.
    alone = model.encode(["short"])[0]
    batched = model.encode(["short", "a much longer sentence with many more tokens than the first one"])[0]
    assert np.allclose(alone, batched, atol=1e-5)


def _git(cwd: Path, *args: str) -> str:
    cmd = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.test",
        "-c",
        "init.defaultBranch=main",
        *args,
    ]
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _commit_all(work: Path, message: str) -> None:
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", message)
    _git(work, "push", "-q", "origin", "HEAD:main")


@pytest.fixture()
def bare_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A local bare repository with two runbooks, and a work tree that pushes to it."""
    bare = tmp_path / "runbooks.git"
    _git(tmp_path, "init", "-q", "--bare", str(bare))
    work = tmp_path / "work"
    _git(tmp_path, "clone", "-q", str(bare), str(work))
    (work / "storage").mkdir()
    (work / "storage" / "disk.md").write_text(DISK)
    (work / "cpu.md").write_text(CPU)
    (work / "build.log").write_text("not a runbook")
    _commit_all(work, "runbooks")
    return bare, work


def _agent_app(tmp_path: Path) -> tuple[World, FastAPI, dict[str, str]]:
    """The agent API over a fresh runbook index, and an admin's headers."""
    world = make_world()
    index = RunbookIndex(tmp_path / "data" / "chroma", ef=LocalEmbeddingFunction())
    app = create_app(
        AgentRuntime(client_factory=lambda: None, extra_workbenches=[]), index_factory=lambda: index
    )
    return world, app, {"Authorization": f"Bearer {world.admin_key}"}


def index_and_wait(client: TestClient, location: str, headers: dict[str, str]) -> dict:
    """Queue an indexing job, then poll its source until the job ends; the job's stats."""
    queued = client.post("/runbook/index", json={"location": location}, headers=headers)
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    for _ in range(600):
        source = client.get(f"/runbook/sources/{queued.json()['id']}", headers=headers).json()
        if source["status"] in ("done", "failed"):
            assert source["status"] == "done", source["error"]
            assert source["files_done"] == source["files_total"]
            return {**source["stats"], "source": source}
        time.sleep(0.05)
    raise AssertionError("the indexing job never ended")


def test_index_a_git_repository_and_reindex_only_what_changed(
    database_url: str, tmp_path: Path, bare_repo: tuple[Path, Path]
) -> None:
    bare, work = bare_repo
    world, app, headers = _agent_app(tmp_path)
    with TestClient(app) as client:
        first = index_and_wait(client, str(bare), headers)
        assert sorted(first["added"]) == ["cpu.md", "storage/disk.md"] and first["chunks"] == 5
        assert first["commit"] == _git(work, "rev-parse", "HEAD").strip()

        hits = client.post(
            "/runbook/retrieve", json={"query": "volume out of space", "k": 2}, headers=headers
        ).json()
        top = hits["results"][0]
        assert (top["path"], top["source"]) == ("storage/disk.md", str(bare)) and 0 < top["score"] <= 1
        assert top["heading"].startswith("Disk full")

        again = index_and_wait(client, str(bare), headers)
        assert (again["added"], again["updated"], again["unchanged"], again["chunks"]) == ([], [], 2, 0)

        (work / "cpu.md").write_text(CPU + "\n## Mitigate\n\nScale out.\n")
        (work / "storage" / "disk.md").unlink()
        (work / "cert.md").write_text(CERT)
        _commit_all(work, "edit")
        third = index_and_wait(client, str(bare), headers)
        assert (third["added"], third["updated"], third["removed"], third["unchanged"]) == (
            ["cert.md"],
            ["cpu.md"],
            ["storage/disk.md"],
            0,
        )
        paths = {
            h["path"]
            for h in client.post(
                "/runbook/retrieve", json={"query": "disk full", "k": 10}, headers=headers
            ).json()["results"]
        }
        assert paths == {"cpu.md", "cert.md"}

        bad = client.post("/runbook/index", json={"location": str(tmp_path / "missing")}, headers=headers)
        assert bad.status_code == 422 and bad.json()["field"] == "location"
        assert (
            client.post("/runbook/retrieve", json={"query": "", "k": 3}, headers=headers).status_code == 422
        )
        for key in (world.viewer_key, world.key):
            refused = client.post(
                "/runbook/index", json={"location": str(bare)}, headers={"Authorization": f"Bearer {key}"}
            )
            assert refused.status_code == 403
        option = client.post(
            "/runbook/index", json={"location": "--upload-pack=touch /tmp/x"}, headers=headers
        )
        assert option.status_code == 422 and option.json()["field"] == "location"
    with session_scope() as s:
        (source,) = [r for r in list_sources(session=s) if r.location == str(bare)]
        assert source.kind == "git" and source.last_commit == third["commit"]


def test_index_a_plain_directory(tmp_path: Path) -> None:
    root = tmp_path / "rb"
    root.mkdir()
    (root / "cert.md").write_text(CERT)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.md").write_text(CPU)
    index = RunbookIndex(tmp_path / "chroma", ef=LocalEmbeddingFunction())
    assert not is_git_location(str(root)) and is_git_location("https://example.test/rb.git")
    stats = index.index_location(str(root))
    assert stats.added == ["cert.md"] and stats.commit is None
    assert index.retrieve("certificate renewal", k=3)[0].path == "cert.md"
    # A second index object over the same folder sees what the first stored (persistence).
    assert (
        RunbookIndex(tmp_path / "chroma", ef=LocalEmbeddingFunction()).index_location(str(root)).unchanged
        == 1
    )


def test_openai_embeddings_when_an_embedding_model_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    from typing import Any

    from agent.embeddings import OpenAIEmbeddingFunction, embedding_function
    from app.config import reset_settings
    from tests.loopback._http import Call, LoopbackServer

    class Embeddings(LoopbackServer):
        def handle(self, call: Call) -> tuple[int, dict[str, Any]]:
            vectors = [np.full(8, float(len(text)), dtype=np.float32) for text in call.body["input"]]
            as_b64 = call.body.get("encoding_format") == "base64"
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": base64.b64encode(v.tobytes()).decode() if as_b64 else v.tolist(),
                }
                for i, v in enumerate(vectors)
            ]
            return 200, {
                "object": "list",
                "data": data,
                "model": call.body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }

    with Embeddings() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.port}/v1")
        reset_settings()
        try:
            ef = embedding_function()
            assert isinstance(ef, OpenAIEmbeddingFunction)
            vectors = ef(["ab", "abcd"])
        finally:
            for name in ("OPENAI_API_KEY", "OPENAI_EMBEDDING_MODEL", "OPENAI_BASE_URL"):
                monkeypatch.delenv(name)
            reset_settings()
        assert [float(v[0]) for v in vectors] == [2.0, 4.0]
        assert server.calls_to("/embeddings")[0].body["model"] == "text-embedding-3-small"
    assert isinstance(embedding_function(), LocalEmbeddingFunction)


@given(
    st.lists(
        st.one_of(
            st.builds(
                lambda n, t: "#" * n + " " + t, st.integers(1, 4), st.text("abc xyz", min_size=1, max_size=12)
            ),
            st.text("abcdefgh .-`", min_size=1, max_size=60),
            st.just("```"),
            st.just(""),
        ),
        max_size=40,
    )
)
def test_chunking_loses_no_line_of_text(lines: list[str]) -> None:
    text = "\n".join(lines)
    chunked = "\n".join(c.text for c in chunk_markdown(text))
    for line in lines:
        if line.strip() and not line.startswith("#"):
            assert line.strip() in chunked


def test_a_runbook_repository_cannot_make_the_indexer_read_the_host(
    database_url: str, tmp_path: Path, bare_repo: tuple[Path, Path]
) -> None:
    """Symlinks out of the repository, huge files and binary files are not indexed; only runbooks are."""
    _, work = bare_repo
    (work / "environ.md").symlink_to("/proc/self/environ")
    (work / "shadow.md").symlink_to("/etc/shadow")
    (work / "etc").symlink_to("/etc")
    (work / "up.md").symlink_to(tmp_path / "outside.md")
    (tmp_path / "outside.md").write_text("# Outside\n\nOUTSIDE-THE-REPO marker\n")
    (work / "huge.md").write_text("# Huge\n\n" + "x" * (600 * 1024))
    (work / "notes.txt").write_text("Rotate the TLS certificate with certbot.\n")
    (work / "binary.so").write_bytes(os.urandom(256))
    _commit_all(work, "hostile")
    world, app, headers = _agent_app(tmp_path)
    with TestClient(app) as client:
        # The work tree as a directory: the symlinks are real on disk there.
        stats = index_and_wait(client, str(work), headers)
        assert sorted(stats["added"]) == ["cpu.md", "notes.txt", "storage/disk.md"]
        everything = client.post(
            "/runbook/retrieve", json={"query": "root password environment secret", "k": 20}, headers=headers
        ).json()["results"]
    text = " ".join(h["text"] for h in everything)
    assert "root:" not in text and "OUTSIDE-THE-REPO" not in text and "DATABASE_URL" not in text
    assert {h["path"] for h in everything} <= {"cpu.md", "notes.txt", "storage/disk.md"}


def test_credentials_in_a_git_url_are_never_shown(database_url: str, tmp_path: Path) -> None:
    world, app, headers = _agent_app(tmp_path)
    secret_url = "https://deploy:ghp_SECRETTOKEN123@127.0.0.1:9/runbooks.git"
    with TestClient(app) as client:
        queued = client.post("/runbook/index", json={"location": secret_url}, headers=headers)
        assert queued.status_code == 202
        for _ in range(600):
            source = client.get(f"/runbook/sources/{queued.json()['id']}", headers=headers).json()
            if source["status"] == "failed":
                break
            time.sleep(0.05)
        listed = client.get("/runbook/sources", headers={"Authorization": f"Bearer {world.viewer_key}"})
        assert (
            client.post(
                "/runbook/index", json={"location": "ext::sh -c touch% /tmp/pwned"}, headers=headers
            ).status_code
            == 422
        )
    assert source["status"] == "failed" and source["location"] == "https://127.0.0.1:9/runbooks.git"
    assert "ghp_SECRETTOKEN123" not in queued.text + str(source) + listed.text
    with session_scope() as s:
        assert all("SECRETTOKEN" not in r.location for r in list_sources(session=s))
