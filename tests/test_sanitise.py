"""The sanitiser's fast path: it skips the noting walk exactly when the walk would change nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.alerts.events import AlertEvent
from app.alerts.sanitise import KEY_MAX, NAME_MAX, SUMMARY_MAX, TEXT_MAX, sanitise, walk

# Short plain text, and text that sits on either side of every limit or holds what Postgres refuses.
EDGES = st.sampled_from(
    ["a\x00b", "x\ud800y", "\udfff", "ok \U0001f600", *("k" * n for n in (NAME_MAX, NAME_MAX + 1))]
    + ["v" * n for n in (SUMMARY_MAX, SUMMARY_MAX + 1, KEY_MAX, KEY_MAX + 1, TEXT_MAX, TEXT_MAX + 1)]
)
TEXT = st.one_of(st.text(max_size=8), EDGES)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def events(draw: st.DrawFn) -> AlertEvent:
    return AlertEvent(
        fingerprint=draw(TEXT),
        dedup_key=draw(TEXT),
        action="trigger",
        summary=draw(TEXT),
        source=draw(TEXT),
        labels=draw(st.dictionaries(TEXT, JSON, max_size=3)),
        annotations=draw(st.dictionaries(TEXT, JSON, max_size=3)),
        links=draw(st.lists(st.dictionaries(TEXT, TEXT, max_size=2), max_size=2)),
        raw=draw(st.dictionaries(TEXT, JSON, max_size=3)),
    )


@given(events())
def test_the_fast_path_agrees_with_the_full_walk(event: AlertEvent) -> None:
    walked = walk(event)
    assert sanitise(event) == walked
    # Untouched by the walk (no note) is exactly when the fast path hands back the same object.
    assert (sanitise(event) is event) == (walked is event)


def test_a_clean_alert_is_returned_as_is_and_a_nul_deep_in_raw_is_still_noted() -> None:
    clean = AlertEvent("fp", "key", "trigger", "disk full", raw={"a": [{"b": "c"}]})
    assert sanitise(clean) is clean
    dirty = AlertEvent("fp", "key", "trigger", "disk full", raw={"a": [{"b": "c\x00"}]})
    assert sanitise(dirty).sanitised == ("raw.a[0].b: NUL removed",)
