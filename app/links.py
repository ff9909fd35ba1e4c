"""Links a person follows from a page or a message: always into the console, to the exact view."""

from __future__ import annotations

from urllib.parse import urlencode

from app.config import get_settings


def console_link(path: str, **query: object) -> str:
    """A console URL for a page path (``incident``, ``incidents``) with an optional query string."""
    base = get_settings().console_url
    params = {k: v for k, v in query.items() if v is not None}
    tail = f"?{urlencode(params, doseq=True)}" if params else ""
    return f"{base}/{path.lstrip('/')}{tail}"


def incident_link(incident_id: int) -> str:
    """The incident's detail page in the console."""
    return console_link("incident", id=incident_id)
