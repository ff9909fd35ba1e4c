"""The People page edits personal notification rules and shift notices; Overview warns of the unreachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.auth.service import SignedIn, require_self_or_admin
from app.db import session_scope
from app.directory.models import User
from app.errors import Forbidden
from app.notifications.reminders_service import reminder_settings_of
from app.notifications.rules_service import rules_of
from tests import console_data
from tests.console_data import Demo
from tests.infra import ROOT

ENTRY = str(ROOT / "app" / "console.py")


@pytest.fixture(scope="module")
def demo(redis_env: dict[str, str]) -> Iterator[Demo]:
    with console_data.database_for_console():
        yield console_data.build_demo()


def _app(user_id: int, page: str) -> AppTest:
    st.cache_data.clear()
    with session_scope() as s:
        u = s.get(User, user_id)
        who = SignedIn(user_id=u.id, email=u.email, name=u.name, role=u.role, time_zone=u.time_zone)
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state["signed_in"] = who
    at.run()
    at.switch_page(f"../pages/{page}")
    at.run()
    return at


def _steps(user_id: int, urgency: str) -> list[tuple[str, int]]:
    with session_scope() as s:
        return [(x.step, x.minutes) for x in rules_of(session=s, user_id=user_id)[urgency]]


def test_people_page_builds_both_lists_and_warns_that_slack_is_not_configured(demo: Demo) -> None:
    at = _app(demo.alice, "people.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any("pages reach nobody" in w.value and "SLACK_BOT_TOKEN" in w.value for w in at.warning)
    assert any("step 1 (slack) is skipped" in w.value for w in at.warning)
    assert _steps(demo.alice, "default") == [("notify", 0)]
    at.selectbox(key="rule_step_default").select("wait").run()
    at.number_input(key="rule_wait_default").set_value(10).run()
    at.button(key="rule_add_default").click().run()
    at.selectbox(key="rule_step_default").select("notify").run()
    at.button(key="rule_add_default").click().run()
    assert _steps(demo.alice, "default") == [("notify", 0), ("wait", 10), ("notify", 0)]
    at.button(key="rule_add_important").click().run()
    assert _steps(demo.alice, "important") == [("notify", 0)]
    at.button(key="rule_pop_default").click().run()
    assert _steps(demo.alice, "default") == [("notify", 0), ("wait", 10)]
    assert not at.exception
    assert any("Removed a step from the default list" in s.value for s in at.success)


def test_someone_else_cannot_edit_my_rules(demo: Demo) -> None:
    at = _app(demo.bob, "people.py")
    chooser = next(w for w in at.selectbox if w.label == "Contact details of")
    chooser.select(demo.alice).run()
    before = _steps(demo.alice, "default")
    reason = "You can't edit Alice A's contact details: only an admin may."
    assert at.button(key="rule_add_default").disabled and at.button(key="rule_add_default").help == reason
    assert any(reason in c.value for c in at.caption)
    # The guard the page runs at action time refuses on its own, whatever the page shows.
    with pytest.raises(Forbidden, match="only an admin may"), session_scope() as s:
        require_self_or_admin(s, by=demo.bob, user_id=demo.alice)
    assert _steps(demo.alice, "default") == before


def test_shift_reminders_are_saved_from_the_form(demo: Demo) -> None:
    at = _app(demo.alice, "people.py")
    at.checkbox(key="reminder_on").check()
    at.number_input(key="reminder_lead").set_value(30)
    next(b for b in at.button if b.label == "Save reminders").click().run()
    assert not at.exception
    with session_scope() as s:
        saved = reminder_settings_of(session=s, user_id=demo.alice)
        assert saved is not None and saved.enabled and saved.lead_minutes == 30


def test_overview_warns_when_someone_on_call_cannot_be_reached(demo: Demo) -> None:
    at = _app(demo.admin, "overview.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any("is on call but no configured channel reaches them" in w.value for w in at.warning)


def test_the_escalation_editor_keeps_a_level_marked_important(demo: Demo) -> None:
    from app.escalation.models import EscalationLevel, EscalationPolicy

    with session_scope() as s:
        policy = s.query(EscalationPolicy).filter_by(name="Storage escalation").one()
        level = s.query(EscalationLevel).filter_by(policy_id=policy.id, position=0).one()
        level.important = True
        policy_id = policy.id
    at = _app(demo.alice, "escalation.py")
    at.button(key="save_policy").click().run()
    assert not at.exception
    with session_scope() as s:
        flags = [
            lv.important
            for lv in s.query(EscalationLevel)
            .filter_by(policy_id=policy_id)
            .order_by(EscalationLevel.position)
        ]
    assert flags[0] is True and not any(flags[1:])
