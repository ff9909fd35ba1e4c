"""The console in AppTest: sign-in, every page on an empty and on a demo database, incident actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.auth.service import SignedIn
from app.db import session_scope
from app.directory.models import User
from app.errors import Forbidden
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentEvent
from app.widgets import present_pages
from tests import console_data
from tests.console_data import PASSWORD, Demo
from tests.infra import ROOT

ENTRY = str(ROOT / "app" / "console.py")


@pytest.fixture(scope="module")
def demo(redis_env: dict[str, str]) -> Iterator[Demo]:
    """The demo database; Redis is real, since actions such as Escalate now enqueue work."""
    with console_data.database_for_console():
        yield console_data.build_demo()


def signed_in_app(user_id: int, page: str | None = None, **query: str) -> AppTest:
    """The console with a user already signed in, optionally switched to a page."""
    st.cache_data.clear()
    with session_scope() as s:
        u = s.get(User, user_id)
        assert u is not None
        who = SignedIn(user_id=u.id, email=u.email, name=u.name, role=u.role, time_zone=u.time_zone)
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state["signed_in"] = who
    at.run()
    if page:
        at.switch_page(f"../pages/{page}")
        at.query_params.update(query)
        at.run()
    return at


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_sign_in_with_argon2_password_and_refusal(demo: Demo) -> None:
    at = AppTest.from_file(ENTRY, default_timeout=60).run()
    assert at.button[0].label == "Sign in"
    at.text_input(key="sign_in_email").input("ALICE@example.test")
    at.text_input(key="sign_in_password").input("wrong password")
    at.button[0].click().run()
    assert "e-mail or password is wrong" in at.error[0].value
    assert "signed_in" not in at.session_state
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    _no_exception(at)
    assert at.session_state["signed_in"].user_id == demo.alice
    assert any(t.value == "Overview" for t in at.title)


@pytest.mark.parametrize("spec", present_pages(), ids=lambda p: p.file)
def test_every_page_renders_on_an_empty_database(spec) -> None:
    with console_data.database_for_console():
        with session_scope() as s:
            s.add(User(email="solo@example.test", name="Solo", role="admin"))
        with session_scope() as s:
            user_id = s.query(User.id).scalar()
        at = signed_in_app(user_id, spec.file)
        _no_exception(at)


@pytest.mark.parametrize("spec", present_pages(), ids=lambda p: p.file)
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_every_page_renders_on_demo_data(demo: Demo, spec, role: str) -> None:
    user_id = demo.admin if role == "admin" else demo.viewer
    query = {"id": str(demo.incident_a)} if spec.file == "incident.py" else {}
    at = signed_in_app(user_id, spec.file, **query)
    _no_exception(at)


def _incident(incident_id: int) -> Incident:
    with session_scope() as s:
        inc = s.get(Incident, incident_id)
        assert inc is not None
        return inc


def _events(incident_id: int, kind: str) -> list[IncidentEvent]:
    with session_scope() as s:
        return list(s.query(IncidentEvent).filter_by(incident_id=incident_id, kind=kind))


def test_acknowledge_from_detail_view_writes_state_and_event_by_that_user(demo: Demo) -> None:
    at = signed_in_app(demo.alice, "incident.py", id=str(demo.incident_a))
    assert _incident(demo.incident_a).status == "triggered"
    at.button(key="ack").click().run()
    _no_exception(at)
    inc = _incident(demo.incident_a)
    assert inc.status == "acknowledged" and inc.acknowledged_by == demo.alice
    (event,) = _events(demo.incident_a, "acknowledged")
    assert event.actor_user_id == demo.alice and event.actor == f"user:{demo.alice}"
    assert any("Acknowledged" in s.value for s in at.success)


def test_responder_of_team_a_is_refused_on_team_b_incident_in_the_console(demo: Demo) -> None:
    at = signed_in_app(demo.alice, "incident.py", id=str(demo.incident_b))
    reason = "You can't act on incidents of checkout: you are not in the Payments team."
    assert any(reason in c.value for c in at.caption)
    # Each button says the refusal of its own action.
    said = "You can't acknowledge incidents of checkout: you are not in the Payments team."
    assert at.button(key="ack").disabled and at.button(key="ack").help == said
    assert at.button(key="resolve").disabled and at.button(key="resolve").help.startswith("You can't resolve")
    # The service refuses too, whatever the page shows, and says so with names.
    refused = "Alice A may not act on incidents of checkout: Alice A is not in the Payments team"
    with pytest.raises(Forbidden, match=refused), session_scope() as s:
        incidents.acknowledge(session=s, incident_id=demo.incident_b, by=demo.alice)
    assert _incident(demo.incident_b).status == "triggered"
    assert _events(demo.incident_b, "acknowledged") == []


def _by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def _locked(at: AppTest, button, reason: str) -> None:
    """A control the user may not use is disabled, with the reason beside it (AppTest cannot click it)."""
    assert button.disabled and button.help == reason
    assert any(reason in c.value and ":material/lock:" in c.value for c in at.caption), [
        c.value for c in at.caption
    ]


def test_services_page_creates_integration_shows_token_once_and_sends_test_alert(demo: Demo) -> None:
    from app.auth.secrets import token_hash
    from app.directory.models import Integration

    at = signed_in_app(demo.admin, "services.py")
    _by_label(at.selectbox, "Manage integrations of").select_index(1).run()  # "postgres" (names sorted)
    _by_label(at.text_input, "Name").input("prod alertmanager")
    _by_label(at.button, "Create integration").click().run()
    _no_exception(at)
    url, token = (c.value for c in at.code[:2])
    assert url.endswith(f"/webhooks/alertmanager/{token}") and token.startswith("whk_")
    with session_scope() as s:
        integration = s.query(Integration).filter_by(name="prod alertmanager").one()
        assert integration.token_hash == token_hash(token)
    _by_label(at.button, "I have copied it").click().run()
    assert not any(token in c.value for c in at.code)
    before = _open_count()
    _by_label(at.button, "Send test alert").click().run()
    _no_exception(at)
    assert any("Test alert sent" in s.value for s in at.success)
    assert _open_count() == before + 1
    _by_label(at.button, "Revoke").click().run()
    with session_scope() as s:
        assert s.get(Integration, integration.id).revoked_at is not None
    _by_label(at.button, "Send test alert").click().run()
    assert any("revoked" in e.value and "field: integration_id" in e.value for e in at.error)
    assert _open_count() == before + 1


def test_services_page_refuses_a_responder_who_is_not_the_team_lead(demo: Demo) -> None:
    from app.directory.models import Integration

    at = signed_in_app(demo.bob, "services.py")
    _by_label(at.selectbox, "Manage integrations of").select_index(0).run()  # "checkout", Bob's team
    _by_label(at.text_input, "Name").input("bob's hook")
    reason = "You can't edit the Payments team's setup: only its lead or an admin may."
    _locked(at, _by_label(at.button, "Create integration"), reason)
    assert not at.code
    with session_scope() as s:
        assert s.query(Integration).filter_by(name="bob's hook").count() == 0


def _open_count() -> int:
    with session_scope() as s:
        return s.query(Incident).filter(Incident.status != "resolved").count()


def test_analytics_export_now_makes_the_demo_numbers_appear(demo: Demo) -> None:
    at = signed_in_app(demo.admin, "analytics.py")
    assert any("Nothing has been exported yet" in w.value for w in at.warning)
    assert _metric(at, "Incidents") == "0"
    at.button(key="export_now").click().run()
    _no_exception(at)
    assert any("Exported" in s.value for s in at.success)
    assert int(_metric(at, "Incidents")) >= 4  # the demo's incidents of the last 30 days
    assert any("Data as of the last export" in c.value for c in at.caption)
    for section, title in (("On-call load", "Fairness per team"), ("Noise", None)):
        at.segmented_control(key="section").set_value(section).run()
        _no_exception(at)
        assert title is None or any(title in m.value for m in at.markdown)
    noisy = at.dataframe[-1].value
    assert "Disk almost full on db-1" in set(noisy["Latest summary"])


def _metric(at: AppTest, label: str) -> str:
    return str(next(m for m in at.metric if m.label == label).value)


def test_overview_shows_who_is_on_call_and_the_next_handoff(demo: Demo) -> None:
    at = signed_in_app(demo.viewer, "overview.py")
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "on call" in d.value.columns)
    row = table[table["schedule"] == "Storage primary"].iloc[0]
    assert row["team"] == "Storage"
    assert row["on call"] in ("Alice A", "Ada Admin") and row["then"] in ("Alice A", "Ada Admin", "Bob B")
    assert row["on call"] != row["then"]


def _override_count() -> int:
    from app.schedules.models import ScheduleOverride

    with session_scope() as s:
        return s.query(ScheduleOverride).count()


@pytest.mark.parametrize(("who", "allowed"), [("alice", True), ("bob", False), ("viewer", False)])
def test_schedule_overrides_are_team_scoped(demo: Demo, who: str, allowed: bool) -> None:
    at = signed_in_app(getattr(demo, who), "schedules.py")
    _no_exception(at)
    assert any(m.label == "On call now" for m in at.metric)
    before = _override_count()
    zone = "Europe/Paris" if who == "bob" else "UTC"
    # The override form starts now, in the viewer's own zone.
    assert (
        _by_label(at.date_input, f"From (date, {zone})").value
        == console_data.utcnow().astimezone(ZoneInfo(zone)).date()
    )
    _by_label(at.date_input, f"From (date, {zone})").set_value(
        console_data.utcnow().date() + timedelta(days=20 + len(who))
    )
    if allowed:
        _by_label(at.button, "Add override").click().run()
    else:
        reason = (
            "You can't change overrides on the Storage team's schedules: "
            "only its lead or an admin may, or a responder of the team."
        )
        _locked(at, _by_label(at.button, "Add override"), reason)
    _no_exception(at)
    assert _override_count() == before + (1 if allowed else 0)


def test_people_page_sends_a_test_notification_through_the_real_channel(demo: Demo) -> None:
    import http.server
    import threading

    from app.directory.service import add_contact_method

    received: list[bytes] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with session_scope() as s:
            url = f"http://127.0.0.1:{server.server_port}/hook"
            add_contact_method(session=s, user_id=demo.bob, kind="webhook", address=url, label="pager box")
        at = signed_in_app(demo.bob, "people.py")
        _by_label(at.selectbox, "Send a test notification to").select_index(0).run()
        at.button(key="send_test").click().run()
        _no_exception(at)
        assert any("Test notification sent via webhook" in s.value for s in at.success)
        assert len(received) == 1 and b"Test notification from SLAR" in received[0]
    finally:
        server.shutdown()
        server.server_close()
    at.button(key="send_test").click().run()  # the receiver is gone now
    assert any("Test notification refused" in e.value and "webhook" in e.value for e in at.error)


def _policy():
    from app.escalation.models import EscalationPolicy
    from app.escalation.service import snapshot_policy

    with session_scope() as s:
        policy = s.query(EscalationPolicy).filter_by(name="Storage escalation").one()
        return policy.repeat_count, snapshot_policy(session=s, policy_id=policy.id)["levels"]


def test_escalation_dry_run_says_who_is_paged_when(demo: Demo) -> None:
    at = signed_in_app(demo.viewer, "escalation.py")
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "Pages" in d.value.columns)
    assert list(table["Level"]) == [1, 2, 1, 2] and list(table["Pass"]) == [1, 1, 2, 2]
    assert table["Target"][1] == "user · Ada Admin" and table["Target"][0].startswith("schedule · ")
    assert set(table["Pages"][:1]) <= {"Alice A", "Ada Admin", "Bob B"} and table["Pages"][1] == "Ada Admin"
    # An unsaved edit changes the dry run at once, and nothing in the database.
    repeat, _ = _policy()
    at.number_input(key="repeat").set_value(0).run()
    table = next(d.value for d in at.dataframe if "Pages" in d.value.columns)
    assert list(table["Level"]) == [1, 2] and _policy()[0] == repeat


@pytest.mark.parametrize(("who", "allowed"), [("bob", False), ("alice", True)])
def test_escalation_policy_edits_are_team_scoped(demo: Demo, who: str, allowed: bool) -> None:
    repeat, levels = _policy()
    at = signed_in_app(getattr(demo, who), "escalation.py")
    at.number_input(key="repeat").set_value(repeat + 1)
    if allowed:
        at.button(key="save_policy").click()
    at.run()
    _no_exception(at)
    new_repeat, new_levels = _policy()
    assert new_repeat == (repeat + 1 if allowed else repeat)
    strip = lambda ls: [(lv["delay_minutes"], [t["kind"] for t in lv["targets"]]) for lv in ls]  # noqa: E731
    assert strip(new_levels) == strip(levels)
    if not allowed:
        reason = "You can't edit the Storage team's setup: only its lead or an admin may."
        assert at.button(key="save_policy").disabled and any(reason in c.value for c in at.caption)


def _new_incident(summary: str) -> int:
    from app.directory.models import Service

    with session_scope() as s:
        service_id = s.query(Service.id).filter_by(name="postgres").scalar()
        alert = console_data.alert(f"fp-{summary}", summary)
        return incidents.trigger_or_group(
            session=s, service_id=service_id, dedup_key=summary, alert=alert
        ).incident.id


def test_snooze_reassign_note_escalate_and_resolve_from_the_detail_view(demo: Demo) -> None:
    incident_id = _new_incident("Checkpoint stall")
    at = signed_in_app(demo.alice, "incident.py", id=str(incident_id))
    _by_label(at.selectbox, "Snooze for").select("4 h")
    at.button(key="snooze").click().run()
    assert _incident(incident_id).snoozed_until is not None
    (snoozed,) = _events(incident_id, "snoozed")
    assert snoozed.actor_user_id == demo.alice and snoozed.data["seconds"] == 4 * 3600
    at.selectbox(key="reassign_to").select(demo.bob)
    at.button(key="reassign").click().run()
    assert _incident(incident_id).assignee_id == demo.bob
    at.text_area(key="note_text").input("Checked the WAL volume")
    _by_label(at.button, "Add note").click().run()
    (note,) = _events(incident_id, "note")
    assert note.data["text"] == "Checked the WAL volume" and note.actor_user_id == demo.alice
    at.button(key="escalate").click().run()
    _no_exception(at)
    inc = _incident(incident_id)
    assert inc.current_level == 1 and inc.snoozed_until is None and inc.next_escalation_at is not None
    assert any("Escalated to level 2" in s.value for s in at.success)
    at.button(key="resolve").click().run()
    assert _incident(incident_id).status == "resolved" and _incident(incident_id).resolved_by == demo.alice
    # A resolved incident offers Reopen, not Acknowledge or Snooze; reopening brings back its owner.
    assert [b.key for b in at.button if b.key in ("ack", "snooze", "resolve", "reopen")] == ["reopen"]
    at.button(key="reopen").click().run()
    _no_exception(at)
    assert _incident(incident_id).status in ("triggered", "acknowledged")
    (reopened,) = _events(incident_id, "reopened")
    assert reopened.actor_user_id == demo.alice


@pytest.mark.parametrize(("who", "allowed"), [("bob", False), ("alice", True)])
def test_new_schedule_is_created_by_a_team_lead_only(demo: Demo, who: str, allowed: bool) -> None:
    from app.directory.models import Team
    from app.schedules.models import Schedule

    at = signed_in_app(getattr(demo, who), "schedules.py")
    name = f"Storage secondary ({who})"
    _by_label(at.text_input, "Schedule name").input(name)
    with session_scope() as s:
        storage = s.query(Team.id).filter_by(name="Storage").scalar()
    _by_label(at.selectbox, "Team").select(storage)
    _by_label(at.text_input, "Time zone (IANA)").input("Europe/Berlin")
    _by_label(at.multiselect, "Rotation, in order").select(demo.alice).select(demo.admin)
    if allowed:
        _by_label(at.button, "Create schedule").click().run()
    else:
        reason = "You can't create schedules: only a team's lead or an admin may."
        _locked(at, _by_label(at.button, "Create schedule"), reason)
    _no_exception(at)
    with session_scope() as s:
        assert s.query(Schedule).filter_by(name=name).count() == (1 if allowed else 0)


@pytest.mark.parametrize(("who", "allowed"), [("bob", False), ("alice", True)])
def test_team_members_are_changed_by_the_team_lead_only(demo: Demo, who: str, allowed: bool) -> None:
    from app.directory.models import Team, TeamMembership

    with session_scope() as s:
        storage = s.query(Team.id).filter_by(name="Storage").scalar()
    at = signed_in_app(getattr(demo, who), "people.py")
    at.selectbox(key="team_pick").select(storage)
    at.run()
    _by_label(at.selectbox, "Person").select(demo.bob)
    _by_label(at.selectbox, "Team role").select("viewer")
    if allowed:
        _by_label(at.button, "Add or change member").click().run()
    else:
        reason = "You can't edit the Storage team's setup: only its lead or an admin may."
        _locked(at, _by_label(at.button, "Add or change member"), reason)
    _no_exception(at)
    with session_scope() as s:
        role = s.query(TeamMembership.role).filter_by(team_id=storage, user_id=demo.bob).scalar()
    assert role == ("viewer" if allowed else None)


def test_incident_filters_survive_a_visit_to_an_incident(demo: Demo) -> None:
    at = signed_in_app(demo.admin, "incidents.py")
    at.multiselect(key="f_severity").select("critical").run()
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert badges and all("CRITICAL" in b for b in badges)
    at.switch_page("../pages/incident.py")
    at.query_params["id"] = str(demo.incident_a)
    at.run()
    at.switch_page("../pages/incidents.py").run()
    assert at.multiselect(key="f_severity").value == ["critical"]


@pytest.mark.parametrize(("who", "allowed"), [("bob", False), ("alice", True)])
def test_service_escalation_policy_is_chosen_by_the_team_lead(demo: Demo, who: str, allowed: bool) -> None:
    from app.directory.models import Service
    from app.escalation.service import LevelSpec, TargetSpec, create_policy

    with session_scope() as s:
        postgres = s.query(Service).filter_by(name="postgres").one()
        service_id, before = postgres.id, postgres.escalation_policy_id
        quiet = create_policy(
            session=s,
            name=f"Storage quiet ({who})",
            levels=[LevelSpec(delay_minutes=30, targets=[TargetSpec("user", user_id=demo.alice)])],
        ).id
    at = signed_in_app(getattr(demo, who), "services.py")
    _by_label(at.selectbox, "Manage integrations of").select(service_id).run()
    at.selectbox(key=f"policy_of_{service_id}").select(quiet)
    if allowed:
        at.button(key=f"save_policy_{service_id}").click().run()
    else:
        reason = "You can't edit the Storage team's setup: only its lead or an admin may."
        _locked(at, at.button(key=f"save_policy_{service_id}"), reason)
    _no_exception(at)
    with session_scope() as s:
        after = s.get(Service, service_id).escalation_policy_id
        s.get(Service, service_id).escalation_policy_id = before  # later tests page through it
    assert after == (quiet if allowed else before)


def test_a_deactivated_user_is_signed_out_on_the_next_run(demo: Demo) -> None:
    from app.directory import service as directory

    with session_scope() as s:
        temp = directory.create_user(session=s, email="temp@example.test", name="Temp", password=PASSWORD)
    at = signed_in_app(temp.id, "overview.py")
    assert any(t.value == "Overview" for t in at.title)
    with session_scope() as s:
        s.get(User, temp.id).active = False
    at.run()
    _no_exception(at)
    assert "signed_in" not in at.session_state
    assert at.button[0].label == "Sign in"


def test_planner_proposes_a_fair_rotation_and_the_lead_applies_it(demo: Demo) -> None:
    from app.schedules.models import ScheduleLayer

    def layers() -> int:
        with session_scope() as s:
            return s.query(ScheduleLayer).count()

    before = layers()
    at = signed_in_app(demo.alice, "schedules.py")
    _by_label(at.number_input, "Weeks").set_value(1)
    _by_label(at.multiselect, "Members").select(demo.admin)  # Alice is the team's only responder
    _by_label(at.button, "Propose a fair rotation").click().run()
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "member" in d.value.columns)
    assert set(table["member"]) == {"Alice A", "Ada Admin", "Gini index"}
    assert layers() == before  # proposing writes nothing
    _by_label(at.button, "Apply this rotation").click().run()
    _no_exception(at)
    assert layers() == before + 1
    assert any("Rotation applied" in s.value for s in at.success)
