"""Make any alert storable: the one place every source's and monitor's events are cleaned.

Postgres refuses a NUL in text and JSONB, a lone surrogate cannot be encoded as UTF-8, and a key
longer than a btree entry (~2.7 KB) cannot be indexed. Any of these in one alert used to fail the
whole delivery, so the sender retried it forever and the healthy alerts beside it were never
stored. Each change made here is noted on the stored alert (`alerts.sanitised`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

from app.alerts.events import AlertEvent

# Documented in the README ("Sanitising"): keep them in step.
KEY_MAX = 512  # fingerprint, dedup key: longer keys become a prefix + a hash of the whole key
SUMMARY_MAX = 1000
SOURCE_MAX = 200
NAME_MAX = 256  # a label, annotation or object key
TEXT_MAX = 16_384  # a label, annotation or link value
_HASH_LEN = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> tuple[str, list[str]]:
    """The text without NUL and with lone surrogates replaced by U+FFFD, and what was changed."""
    changes = []
    if "\x00" in value:
        value = value.replace("\x00", "")
        changes.append("NUL removed")
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
        changes.append("lone surrogate replaced")
    return value, changes


def cut_key(value: str, limit: int = KEY_MAX) -> str:
    """A key within `limit` characters: longer ones keep a prefix and end in the whole key's hash.

    Two long keys with one prefix stay apart (the hash covers all of it), and the same long key
    always gives the same result, so a retry, a resolve and the dedup of a re-fire still match.
    """
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{value[: limit - _HASH_LEN - 1]}#{digest}"


class _Notes:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, changes: list[str]) -> None:
        self.items.extend(f"{where}: {c}" for c in changes)


def _text(value: str, where: str, limit: int | None, notes: _Notes) -> str:
    value, changes = clean_text(value)
    notes.add(where, changes)
    if limit is not None and len(value) > limit:
        notes.add(where, [f"cut from {len(value)} to {limit} characters"])
        value = value[:limit]
    return value


def _key(value: str, where: str, notes: _Notes) -> str:
    cleaned = _text(value, where, None, notes)
    cut = cut_key(cleaned)
    if cut != cleaned:
        notes.add(where, [f"{len(cleaned)} characters hashed to {len(cut)}"])
    return cut


def _tree(value: Any, where: str, limit: int | None, notes: _Notes) -> Any:
    """Clean every string (keys too) of a JSON value; `limit` cuts strings, None keeps their length."""
    if isinstance(value, str):
        return _text(value, where, limit, notes)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = _text(str(k), f"{where} key", NAME_MAX, notes)
            out[name] = _tree(v, f"{where}.{name[:40]}", limit, notes)
        return out
    if isinstance(value, list):
        return [_tree(v, f"{where}[{i}]", limit, notes) for i, v in enumerate(value)]
    return value


def _storable_text(value: str, limit: int | None) -> bool:
    return (limit is None or len(value) <= limit) and "\x00" not in value and not _SURROGATE.search(value)


def _storable(value: Any, limit: int | None) -> bool:
    """True when `_tree` would change nothing: the check alone, without building notes or copies."""
    if isinstance(value, str):
        return _storable_text(value, limit)
    if isinstance(value, dict):
        for k, v in value.items():
            if not _storable_text(str(k), NAME_MAX) or not _storable(v, limit):
                return False
        return True
    if isinstance(value, list):
        for v in value:
            if not _storable(v, limit):
                return False
    return True


def _unchanged(event: AlertEvent) -> bool:
    """True when sanitising would change nothing (almost every alert: the fast path)."""
    return (
        _storable_text(event.fingerprint, KEY_MAX)
        and _storable_text(event.dedup_key, KEY_MAX)
        and _storable_text(event.summary, SUMMARY_MAX)
        and _storable_text(event.source, SOURCE_MAX)
        and _storable(event.labels, TEXT_MAX)
        and _storable(event.annotations, TEXT_MAX)
        and _storable(event.links, TEXT_MAX)
        and _storable(event.raw, None)
    )


def sanitise(event: AlertEvent) -> AlertEvent:
    """The event as it can be stored, with `sanitised` listing each change (unchanged: same object)."""
    # Walking with notes costs many times the check, and a storable alert gets no notes anyway.
    return event if _unchanged(event) else walk(event)


def walk(event: AlertEvent) -> AlertEvent:
    """`sanitise` without the fast path: every string visited and noted."""
    notes = _Notes()
    changed = {
        "fingerprint": _key(event.fingerprint, "fingerprint", notes),
        "dedup_key": _key(event.dedup_key, "dedup_key", notes),
        "summary": _text(event.summary, "summary", SUMMARY_MAX, notes),
        "source": _text(event.source, "source", SOURCE_MAX, notes),
        "labels": _tree(event.labels, "labels", TEXT_MAX, notes),
        "annotations": _tree(event.annotations, "annotations", TEXT_MAX, notes),
        "links": _tree(event.links, "links", TEXT_MAX, notes),
        # The raw body is kept whole (the request size limit bounds it); only unstorable text goes.
        "raw": _tree(event.raw, "raw", None, notes),
    }
    if not notes.items:
        return event
    return dataclasses.replace(event, **changed, sanitised=tuple(event.sanitised) + tuple(notes.items))
