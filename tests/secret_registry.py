"""Every secret the suite creates, and every log file a SLAR process of the suite wrote.

At the end of the run (tests/conftest.py) each registered log is searched for each registered
secret: one found fails the run, whichever test leaked it. Secrets are registered where the suite
makes them: integration tokens and passwords by the factories, credentials by the helpers that
hand them to child processes in their environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

SECRETS: set[str] = set()
LOGS: set[Path] = set()
MIN_LENGTH = 8  # shorter values would match ordinary words in a log
# The settings that hold a secret (app/config.py), with or without the SLAR_ prefix.
SECRET_SETTINGS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "OPENAI_API_KEY",
    "WEBHOOK_SECRET",
    "OIDC_CLIENT_SECRET",
)
# The processes of the product, told apart from third-party ones (Alertmanager) by their command line.
_SLAR = re.compile(r"ingest\.app|agent\.service|workers\.|app/console\.py|app/web\.py|\bslar\b|dramatiq")


def register(*values: str | None) -> None:
    SECRETS.update(v for v in values if v and len(v) >= MIN_LENGTH)


def register_env(env: Mapping[str, str]) -> None:
    """The secret settings among a child process's environment."""
    for name, value in env.items():
        bare = name.removeprefix("SLAR_")
        if bare in SECRET_SETTINGS:
            register(value)
        elif bare == "SMTP_URL" and value:
            password = urlsplit(value).password
            register(unquote(password) if password else None)


def register_log(path: Path, args: list[str] | None = None) -> None:
    """A log file a SLAR process writes (`args` given: only when the command line is SLAR's)."""
    if args is None or _SLAR.search(" ".join(map(str, args))):
        LOGS.add(Path(path))


def leaks() -> list[tuple[str, str]]:
    """(log file, secret's first 6 characters) for every registered secret found in a registered log."""
    found = []
    for path in sorted(LOGS):
        files = sorted(path.rglob("*.log")) if path.is_dir() else [path]
        for file in files:
            if not file.exists():
                continue
            text = file.read_text(errors="replace")
            found += [(str(file), s[:6]) for s in sorted(SECRETS) if s in text]
    return found
