"""Log redaction in the ingest process: the shared app.logredact (every process installs it)."""

from __future__ import annotations

from app.logredact import RedactTokens, install, redact

__all__ = ["RedactTokens", "install", "redact"]
