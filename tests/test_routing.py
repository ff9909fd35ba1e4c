"""Routing rules: a pure first-match evaluation, and validation of what the console stores."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.alerts.events import AlertEvent
from app.alerts.routing import Matcher, Rule, field_value, matches, parse_matchers, route
from app.errors import Invalid


def _event(**labels: str) -> AlertEvent:
    return AlertEvent(
        fingerprint="fp",
        dedup_key="k",
        action="trigger",
        summary="CPU high",
        severity="warning",
        labels=dict(labels),
        annotations={"runbook": "https://runbooks/cpu"},
        raw={"org": {"name": "acme"}},
    )


def test_first_matching_rule_wins_and_default_otherwise() -> None:
    rules = [
        Rule((Matcher("labels.team", "equals", "db"),), 10),
        Rule((Matcher("labels.team", "regex", "^d"),), 11),
        Rule((Matcher("labels.env", "exists"),), 12),
    ]
    assert route(rules, _event(team="db"), 1) == 10
    assert route(rules, _event(team="dev"), 1) == 11
    assert route(rules, _event(team="web", env="prod"), 1) == 12
    assert route(rules, _event(team="web"), 1) == 1
    assert route([], _event(team="db"), 7) == 7


def test_all_matchers_of_a_rule_must_match() -> None:
    rule = Rule((Matcher("labels.team", "equals", "db"), Matcher("severity", "equals", "critical")), 5)
    assert route([rule], _event(team="db"), 1) == 1


def test_field_paths_reach_labels_annotations_raw_and_top_level() -> None:
    ev = _event(**{"app.kubernetes.io/name": "api"})
    assert field_value(ev, "labels.app.kubernetes.io/name") == "api"
    assert field_value(ev, "raw.org.name") == "acme"
    assert matches(Matcher("annotations.runbook", "regex", "cpu$"), ev)
    assert matches(Matcher("summary", "regex", "(?i)cpu"), ev)
    assert not matches(Matcher("labels.missing", "exists"), ev)
    assert not matches(Matcher("labels.missing", "equals", ""), ev)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "matchers"),
        ("x", "matchers"),
        ([{"field": "labels.team", "op": "like", "value": "x"}], "matchers[0].op"),
        ([{"field": "nothing", "op": "equals", "value": "x"}], "matchers[0].field"),
        ([{"field": "labels", "op": "equals", "value": "x"}], "matchers[0].field"),
        ([{"field": "labels.a", "op": "regex", "value": "("}], "matchers[0].value"),
        ([{"field": "labels.a", "op": "equals", "value": 3}], "matchers[0].value"),
        ([{"field": "labels.a", "op": "exists"}, "x"], "matchers[1]"),
    ],
)
def test_bad_matchers_are_refused_naming_the_field(raw: object, field: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_matchers(raw)
    assert err.value.field == field


labels = st.dictionaries(st.sampled_from(["team", "env", "region"]), st.text(max_size=5), max_size=3)
matcher = st.builds(
    Matcher,
    field=st.sampled_from(["labels.team", "labels.env", "severity", "summary"]),
    op=st.sampled_from(["equals", "exists", "regex"]),
    value=st.text(alphabet="abc^$.", max_size=3).filter(lambda v: _valid_regex(v)),
)


def _valid_regex(value: str) -> bool:
    try:
        parse_matchers([{"field": "summary", "op": "regex", "value": value}])
    except Invalid:
        return False
    return True


@given(st.lists(st.tuples(st.lists(matcher, min_size=1, max_size=3), st.integers(2, 50)), max_size=6), labels)
def test_route_is_the_first_rule_that_fully_matches(rules_data: list, event_labels: dict) -> None:
    rules = [Rule(tuple(ms), target) for ms, target in rules_data]
    ev = _event(**event_labels)
    expected = next((r.target_service_id for r in rules if all(matches(m, ev) for m in r.matchers)), 1)
    assert route(rules, ev, 1) == expected
    # Prepending a rule that cannot match never changes the answer.
    never = Rule((Matcher("labels.absent", "exists"),), 999)
    assert route([never, *rules], ev, 1) == expected


@given(
    st.lists(
        st.fixed_dictionaries(
            {"field": st.just("labels.team"), "op": st.just("equals"), "value": st.text(max_size=8)}
        ),
        min_size=1,
        max_size=5,
    )
)
def test_valid_matchers_round_trip(raw: list) -> None:
    parsed = parse_matchers(raw)
    assert [m.__dict__ for m in parsed] == raw


def test_raw_alone_is_the_payload_as_json_text_for_a_regex_over_all_of_it() -> None:
    event = _event(team="db")
    assert field_value(event, "raw") == '{"org": {"name": "acme"}}'  # json.dumps, as OnCall searches
    rule = parse_matchers([{"field": "raw", "op": "regex", "value": '"name": "ac'}])
    assert matches(rule[0], event)
    assert not matches(Matcher("raw", "regex", '"name": "web"'), event)
