"""The runbook index: Markdown chunked by headings, embedded, kept in ChromaDB; git or directory sources.

Re-indexing a source compares each file's content hash with the one stored on its chunks, so only
changed, new and deleted files touch the collection.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agent.embeddings import embedding_function

MARKDOWN = (".md", ".markdown")
TEXT_EXTENSIONS = (*MARKDOWN, ".txt", ".rst")
MAX_FILE_BYTES = 512 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024
MAX_FILES = 5000
GIT_SCHEMES = ("https", "http", "ssh", "git", "file")
MAX_CHUNK = 1500
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Chunk:
    heading: str
    text: str


@dataclass(frozen=True)
class Hit:
    source: str
    path: str
    heading: str
    text: str
    score: float


@dataclass
class IndexStats:
    source: str
    commit: str | None = None
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks: int = 0


def chunk_markdown(text: str) -> list[Chunk]:
    """Split Markdown at headings; each chunk carries its heading trail ("Title > Section")."""
    trail: list[tuple[int, str]] = []
    chunks: list[Chunk] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = "\n".join(body).strip()
        heading = " > ".join(h for _, h in trail)
        if content:
            for piece in _split_long(content):
                chunks.append(Chunk(heading, f"{heading}\n\n{piece}" if heading else piece))
        body.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            trail = [(lvl, h) for lvl, h in trail if lvl < level] + [(level, match.group(2))]
        else:
            body.append(line)
    flush()
    return chunks


def _split_long(content: str) -> list[str]:
    if len(content) <= MAX_CHUNK:
        return [content]
    pieces, current = [], ""
    for para in content.split("\n\n"):
        if current and len(current) + len(para) > MAX_CHUNK:
            pieces.append(current)
            current = ""
        current = f"{current}\n\n{para}" if current else para
    return pieces + ([current] if current else [])


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(root)
    except (OSError, ValueError):
        return False
    return True


def runbook_files(root: Path) -> dict[str, Path]:
    """Runbook text files under root by POSIX path relative to it.

    Only regular files of a known text extension, inside root: symlinks (to files or folders) are
    never followed, hidden folders (.git) are skipped, and per-file, file-count and total size limits
    hold, so a repository cannot make the indexer read the host (/proc/self/environ, /etc/shadow).
    """
    root = root.resolve(strict=True)
    out: dict[str, Path] = {}
    total = 0
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (base / d).is_symlink())
        for name in sorted(names):
            path = base / name
            info = path.lstat()
            if name.startswith(".") or path.suffix.lower() not in TEXT_EXTENSIONS:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES or not _within(path, root):
                continue
            if len(out) >= MAX_FILES or total + info.st_size > MAX_TOTAL_BYTES:
                return out
            total += info.st_size
            out[path.relative_to(root).as_posix()] = path
    return out


def read_runbook(path: Path) -> str:
    """A runbook's text, opened without following a symlink swapped in since it was listed."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")


def redact_location(location: str) -> str:
    """A source location without the credentials a git URL may carry (user:token@host)."""
    parts = urlsplit(location)
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return location


def check_location(location: str) -> None:
    """Raise ValueError unless the location is a repository address or an existing directory."""
    if location.startswith("-"):
        raise ValueError("location must be a repository URL or a path, not an option")
    if is_git_location(location):
        scheme = location.split("://", 1)[0].lower() if "://" in location else "ssh"
        if scheme not in GIT_SCHEMES:
            raise ValueError(f"git locations must use one of {', '.join(GIT_SCHEMES)}")
        return
    if not Path(location).is_dir():
        raise ValueError(f"{redact_location(location)} is neither a git repository nor a directory")


def is_git_location(location: str) -> bool:
    """A URL, an scp-style address, or a local bare repository / *.git path."""
    if "://" in location or re.match(r"^[\w.-]+@[\w.-]+:", location):
        return True
    path = Path(location)
    return location.endswith(".git") or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def checkout(location: str, dest_root: Path) -> tuple[Path, str]:
    """Clone (or fetch and reset) a git repository into dest_root; return the work tree and its commit."""
    dest = dest_root / hashlib.sha1(location.encode()).hexdigest()[:16]
    if (dest / ".git").is_dir():
        _git("-C", str(dest), "fetch", "--depth", "1", "origin")
        _git("-C", str(dest), "reset", "--hard", "FETCH_HEAD")
    else:
        dest_root.mkdir(parents=True, exist_ok=True)
        # "--" so a location such as "--upload-pack=…" is a path, never an option git would run.
        _git("clone", "--depth", "1", "--", location, str(dest))
    return dest, _git("-C", str(dest), "rev-parse", "HEAD").strip()


def _git(*args: str) -> str:
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        # No ext:: or other helper transports that would run commands.
        "GIT_ALLOW_PROTOCOL": ":".join(GIT_SCHEMES),
    }
    proc = subprocess.run(["git", *args], capture_output=True, text=True, timeout=120, env=env, check=False)
    if proc.returncode != 0:
        # git echoes the URL it failed on: never show the credentials in it.
        stderr = re.sub(r"://[^/@\s]+@", "://", proc.stderr.strip())
        raise ValueError(f"git {args[0]} failed: {stderr[:300]}")
    return proc.stdout


class RunbookIndex:
    """One ChromaDB collection of runbook chunks with source/path/heading metadata."""

    def __init__(self, persist_dir: Path, ef: Any | None = None, collection: str = "runbooks") -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        persist_dir.mkdir(parents=True, exist_ok=True)
        self.persist_dir = persist_dir
        self.client = chromadb.PersistentClient(
            path=str(persist_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
        # Always hand Chroma our embedding function: its default downloads a model and fails offline.
        self.ef = ef or embedding_function()
        self.collection = self.client.get_or_create_collection(
            collection, embedding_function=self.ef, metadata={"hnsw:space": "cosine"}
        )

    def _stored_hashes(self, source: str) -> dict[str, str]:
        got = self.collection.get(where={"source": source}, include=["metadatas"])
        return {m["path"]: m["file_sha"] for m in got["metadatas"] or []}

    def index_directory(
        self, root: Path, source: str, commit: str | None = None, progress: Progress | None = None
    ) -> IndexStats:
        """Index root's runbooks under a source name, touching only changed files."""
        stats = IndexStats(source=source, commit=commit)
        stored = self._stored_hashes(source)
        files = runbook_files(root)
        for rel in sorted(set(stored) - set(files)):
            self.collection.delete(where={"$and": [{"source": source}, {"path": rel}]})
            stats.removed.append(rel)
        pending: list[tuple[str, str, Chunk]] = []
        for done, (rel, path) in enumerate(files.items()):
            if progress is not None and done % 20 == 0:
                progress(done, len(files))
            text = read_runbook(path)
            sha = hashlib.sha256(text.encode()).hexdigest()
            if stored.get(rel) == sha:
                stats.unchanged += 1
                continue
            if rel in stored:
                self.collection.delete(where={"$and": [{"source": source}, {"path": rel}]})
            chunks = chunk_markdown(text)
            pending.extend((rel, sha, c) for c in chunks)
            (stats.updated if rel in stored else stats.added).append(rel)
        stats.chunks = self._add(source, pending)
        if progress is not None:
            progress(len(files), len(files))
        return stats

    def _add(self, source: str, pending: list[tuple[str, str, Chunk]]) -> int:
        if not pending:
            return 0
        key = hashlib.sha1(source.encode()).hexdigest()[:10]
        ids, docs, metas, seen = [], [], [], {}
        for rel, sha, chunk in pending:
            n = seen[rel] = seen.get(rel, -1) + 1
            ids.append(f"{key}:{rel}:{n}")
            docs.append(f"{rel}\n{chunk.text}")
            metas.append({"source": source, "path": rel, "heading": chunk.heading, "file_sha": sha})
        # One embedding call for the whole batch: the encoder batches by length far better than per file.
        self.collection.add(ids=ids, documents=docs, metadatas=metas, embeddings=self.ef(docs))
        return len(ids)

    def index_location(self, location: str, progress: Progress | None = None) -> IndexStats:
        """Index a git repository (cloned under the index's folder) or a local directory.

        Stored under its location without credentials, so hits never show a token.
        """
        check_location(location)
        source = redact_location(location)
        if is_git_location(location):
            tree, commit = checkout(location, self.persist_dir.parent / "runbook-repos")
            return self.index_directory(tree, source, commit, progress)
        return self.index_directory(Path(location), source, None, progress)

    def retrieve(self, query: str, k: int = 3) -> list[Hit]:
        """The k chunks nearest the query, best first, with cosine similarity as score."""
        if self.collection.count() == 0:
            return []
        res = self.collection.query(
            query_texts=[query], n_results=k, include=["documents", "metadatas", "distances"]
        )
        hits = []
        for doc, meta, dist in zip(
            res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
        ):
            text = doc.split("\n", 1)[1] if "\n" in doc else doc
            hits.append(
                Hit(str(meta["source"]), str(meta["path"]), str(meta["heading"]), text, 1.0 - float(dist))
            )
        return hits


@lru_cache(maxsize=1)
def default_index() -> RunbookIndex:
    """The process-wide runbook index under settings.data_dir/chroma."""
    from app.config import get_settings

    return RunbookIndex(Path(get_settings().data_dir) / "chroma")
