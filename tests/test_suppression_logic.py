"""Silence matchers: Alertmanager semantics as properties, and the validation that names the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import Invalid
from app.suppression.logic import (
    ActiveSilence,
    AlertFields,
    Matcher,
    field_of,
    like_alert,
    matches,
    parse_matcher_text,
    parse_matchers,
    silenced_by,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)
names = st.sampled_from(["alertname", "team", "env", "service", "severity", "source", "labels.severity"])
values = st.text(alphabet="abcXYZ01-_.", max_size=8)
alerts = st.builds(
    AlertFields,
    service=values,
    severity=st.sampled_from(["critical", "error", "warning", "info"]),
    source=st.sampled_from(["alertmanager", "grafana", "generic"]),
    labels=st.dictionaries(st.sampled_from(["alertname", "team", "env", "severity"]), values, max_size=4),
)


@given(alerts, names, values)
def test_not_equal_is_the_negation_of_equal(alert: AlertFields, name: str, value: str) -> None:
    assert matches(Matcher(name, "!=", value), alert) != matches(Matcher(name, "=", value), alert)


@given(alerts, names, values)
def test_escaped_regex_is_equality_and_not_regex_is_its_negation(
    alert: AlertFields, name: str, value: str
) -> None:
    pattern = re.escape(value)
    assert matches(Matcher(name, "=~", pattern), alert) == matches(Matcher(name, "=", value), alert)
    assert matches(Matcher(name, "!~", pattern), alert) != matches(Matcher(name, "=~", pattern), alert)


@given(alerts, names)
def test_a_matcher_built_from_the_alert_matches_it(alert: AlertFields, name: str) -> None:
    assert matches(Matcher(name, "=", field_of(alert, name)), alert)
    assert all(matches(m, alert) for m in like_alert(alert))


@given(alerts, st.lists(st.tuples(st.booleans(), st.integers(1, 50)), max_size=5))
def test_silenced_by_picks_the_longest_of_the_silences_that_fully_match(
    alert: AlertFields, shapes: list[tuple[bool, int]]
) -> None:
    silences = []
    for i, (hit, hours) in enumerate(shapes):
        op = "=" if hit else "!="
        silences.append(
            ActiveSilence(i, (Matcher("severity", op, alert.severity),), T0 + timedelta(hours=hours))
        )
    found = silenced_by(silences, alert)
    hits = [s for s in silences if shapes[s.id][0]]
    assert (found is None) == (not hits)
    if found is not None:
        assert found.ends_at == max(s.ends_at for s in hits)


def test_regex_must_match_the_whole_value_and_a_missing_label_reads_empty() -> None:
    alert = AlertFields(
        service="db", severity="critical", source="alertmanager", labels={"alertname": "DiskFull"}
    )
    assert not matches(Matcher("alertname", "=~", "Disk"), alert)
    assert matches(Matcher("alertname", "=~", "Disk.*"), alert)
    assert matches(Matcher("team", "=", ""), alert)
    assert matches(Matcher("team", "!~", ".+"), alert)
    assert matches(Matcher("service", "=", "db"), alert)
    assert not matches(Matcher("labels.severity", "=", "critical"), alert)


def test_parse_names_the_bad_field() -> None:
    with pytest.raises(Invalid) as err:
        parse_matchers([{"name": "a", "op": "=", "value": "x"}, {"name": "b", "op": "~", "value": "y"}])
    assert err.value.field == "matchers[1].op"
    with pytest.raises(Invalid) as err:
        parse_matchers([{"name": "a", "op": "=~", "value": "("}])
    assert err.value.field == "matchers[0].value"
    with pytest.raises(Invalid) as err:
        parse_matchers([])
    assert err.value.field == "matchers"


def test_amtool_style_text() -> None:
    assert parse_matcher_text('alertname=~"Disk.*"') == Matcher("alertname", "=~", "Disk.*")
    assert parse_matcher_text("env!=prod") == Matcher("env", "!=", "prod")
    with pytest.raises(Invalid):
        parse_matcher_text("no operator here")
