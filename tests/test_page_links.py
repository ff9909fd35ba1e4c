"""Every page carries the alert's links and "Open in SLAR", a console link that opens the incident."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.config import reset_settings
from app.incidents import service as incidents
from app.notifications.logic import (
    IncidentView,
    Outbound,
    email_text,
    push_message,
    slack_blocks,
    webhook_body,
)
from app.notifications.service import incident_view
from tests import browser
from tests import factories as f
from tests.infra import ROOT
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.test_workers_escalation import _slack_user

CONSOLE = "https://slar.example.test/console"
LINKS = [
    {"href": "http://prometheus.test/graph?g0.expr=up", "text": "source"},
    {"href": "https://runbooks.test/disk", "text": "Runbook"},
    {"href": "javascript:alert(1)", "text": "evil"},
]


def _view() -> IncidentView:
    return IncidentView(
        id=7,
        number=42,
        title="Disk full",
        severity="critical",
        status="triggered",
        service="db",
        summary="disk 99%",
        url=f"{CONSOLE}/incident?id=7",
        links=LINKS,
    )


def _out(view: IncidentView) -> Outbound:
    return Outbound(delivery_id=1, channel="push", address="device", attempt=1, incident=view)


def test_every_renderer_carries_the_alert_links_and_open_in_slar() -> None:
    view = _view()
    context = " ".join(e["text"] for b in slack_blocks(view) if b["type"] == "context" for e in b["elements"])
    assert context == (
        f"<{CONSOLE}/incident?id=7|Open in SLAR> · <http://prometheus.test/graph?g0.expr=up|source>"
        " · <https://runbooks.test/disk|Runbook>"
    )
    _, body = email_text(view)
    assert f"Open in SLAR: {CONSOLE}/incident?id=7" in body
    assert (
        "source: http://prometheus.test/graph?g0.expr=up" in body
        and "Runbook: https://runbooks.test/disk" in body
    )
    assert "javascript:" not in body + context
    data = push_message(_out(view))["data"]
    assert data["url"] == f"{CONSOLE}/incident?id=7"
    assert json.loads(data["links"]) == [
        {"text": "source", "url": "http://prometheus.test/graph?g0.expr=up"},
        {"text": "Runbook", "url": "https://runbooks.test/disk"},
    ]
    hook = json.loads(webhook_body(_out(view)))["incident"]
    assert hook["url"] == f"{CONSOLE}/incident?id=7" and json.loads(data["links"]) == hook["links"]


def test_a_link_text_cannot_break_the_slack_markup() -> None:
    view = IncidentView(
        id=1, number=1, title="t", severity="info", status="triggered", service="s",
        links=[{"href": "https://x.test/a|b>c", "text": "a|<b>"}],
    )  # fmt: skip
    context = [b for b in slack_blocks(view) if b["type"] == "context"][0]["elements"][0]["text"]
    assert context == "<https://x.test/a%7Cb&gt;c|a¦&lt;b&gt;>"


def test_incident_view_links_to_the_console_not_the_ingest(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLAR_CONSOLE_URL", CONSOLE + "/")
    monkeypatch.setenv("SLAR_PUBLIC_URL", "https://ingest.example.test")
    reset_settings()
    try:
        svc = f.service(session)
        alert = AlertEvent(fingerprint="fp", dedup_key="k", action="trigger", summary="s", links=LINKS)
        inc = incidents.trigger_or_group(
            session=session, service_id=svc.id, dedup_key="k", alert=alert
        ).incident
        view = incident_view(session, inc)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert view.url == f"{CONSOLE}/incident?id={inc.id}"
    assert view.links == LINKS


@pytest.mark.browser
# The console keeps a sign-in and its deep link across a followed link only with its own sign-in
# endpoint (app/web.py); until then following the link lands on Overview, and this test says so.
@pytest.mark.xfail(
    not (ROOT / "app" / "web.py").exists(),
    reason="the console loses a deep link at sign-in without its sign-in endpoint (app/web.py)",
    strict=True,
)
@pytest.mark.skipif(
    browser.chromium_missing(), reason=f"Debian Chromium is not installed at {browser.CHROMIUM}"
)
def test_open_in_slar_from_a_sent_slack_message_shows_the_incident(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    password = "follow the link"
    Session = sessions(fresh_database)
    with Session.begin() as s:
        admin = f.user(s, role="admin", email=f"links-{uuid.uuid4().hex[:6]}@example.test", password=password)
        paged = _slack_user(s, "Paged")
        svc = f.service(s, policy_id=f.policy_for(s, [paged], delay_minutes=30))
        alert = AlertEvent(
            fingerprint="fp", dedup_key="links", action="trigger", summary="Disk full on db-1", links=LINKS
        )
        inc = incidents.trigger_or_group(
            session=s, service_id=svc.id, dedup_key="links", alert=alert
        ).incident
        incident_id, number, token, email = inc.id, inc.number, inc.escalation_token, admin.email
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    log_dir = output_dir / "links" / namespace
    log_dir.mkdir(parents=True, exist_ok=True)
    with (
        browser.console_server(fresh_database, log_dir / "console.log") as console,
        SlackServer() as slack,
        worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=log_dir,
            extra_env={
                "SLACK_API_URL": slack.api_url,
                "SLACK_BOT_TOKEN": "xoxb-links",
                "SLAR_CONSOLE_URL": console,
            },
        ) as stack,
    ):
        stack.kick(incident_id, token)
        post = wait_for(lambda: slack.posts(), 30, "the Slack page")[0]
        text = json.dumps(post.body["blocks"])
        assert (
            "http://prometheus.test/graph?g0.expr=up|source" in text
            and "https://runbooks.test/disk|Runbook" in text
        )
        (link,) = re.findall(r"<([^|>]+)\|Open in SLAR>", text)
        assert link == f"{console}/incident?id={incident_id}"
        with browser.chromium_page() as page:
            # Signed in first where the console needs it; then the link from the message is followed.
            browser.sign_in(page, console, email, password)
            page.goto(link)
            heading = page.get_by_role("heading", name=f"#{number} Disk full on db-1")
            form = page.get_by_role("button", name="Sign in")
            heading.or_(form).first.wait_for(timeout=30_000)
            if form.count():  # a console without a remembered sign-in asks again, then opens the link
                page.keyboard.press("Escape")  # a "page not found" notice may cover the form
                page.get_by_role("textbox", name="E-mail").fill(email)
                page.get_by_role("textbox", name="Password").fill(password)
                form.click()
            heading.wait_for(timeout=30_000)
            assert browser.exceptions(page) == []
            page.screenshot(path=str(log_dir / "incident-from-slack.png"))
