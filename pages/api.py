"""API keys & webhooks: create and revoke public API keys (shown once), subscribe outgoing webhooks."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app.auth.apikeys import create_key, list_keys, revoke_key
from app.auth.verdicts import any_team_edit
from app.config import get_settings
from app.db import utcnow
from app.directory import service as directory
from app.directory.models import API_SCOPES
from app.webhooks import service as hooks
from app.webhooks.models import WEBHOOK_EVENTS
from app.widgets import act, current_user, db, flash, lock_note, show_flash

NEW_KEY = "_new_api_key"


def _keys_table(keys: list, team_names: dict[int, str], names: dict[int, str]) -> None:
    st.dataframe(
        [
            {
                "id": k.id,
                "key": f"{k.prefix}…",
                "name": k.name,
                "user": names.get(k.user_id, "—"),
                "scopes": ", ".join(k.scopes),
                "team": team_names.get(k.team_id, "all"),
                "expires": k.expires_at,
                "last used": k.last_used_at,
                "from": " · ".join(x for x in (k.last_used_ip, k.last_used_agent) if x) or "—",
                "status": "revoked"
                if k.revoked_at
                else "expired"
                if k.expires_at and k.expires_at <= utcnow()
                else "active",
            }
            for k in keys
        ],
        hide_index=True,
        width="stretch",
    )


def _new_key_form(by: int, team_names: dict[int, str]) -> None:
    with st.form("new_key", clear_on_submit=True):
        c = st.columns([2, 2, 1, 1])
        name = c[0].text_input("What the key is for")
        scopes = c[1].multiselect("Scopes (read is always granted)", [s for s in API_SCOPES if s != "read"])
        team = c[2].selectbox(
            "Limit to team", [None, *team_names], format_func=lambda t: team_names.get(t, "all teams")
        )
        days = c[3].number_input("Expires after (days, 0 = never)", min_value=0, max_value=3650, value=90)
        if st.form_submit_button("Create API key"):
            made = act(
                "Create API key",
                create_key,
                by=by,
                name=name,
                scopes=scopes,
                team_id=team,
                expires_at=utcnow() + timedelta(days=int(days)) if days else None,
            )
            if made:
                st.session_state[NEW_KEY] = made[1]
                st.rerun()


def _show_new_key() -> None:
    raw = st.session_state.pop(NEW_KEY, None)
    if raw:
        st.warning("Copy the key now: it is shown once and only its hash is kept.", icon=":material/key:")
        st.code(raw, language=None)
        st.caption(f"Use it as `Authorization: Bearer <key>` on {get_settings().ingest_url}/api/v1")


def _revoke(keys: list, by: int) -> None:
    active = [k for k in keys if k.revoked_at is None]
    if not active:
        return
    c = st.columns([3, 1])
    key = c[0].selectbox("Revoke", active, format_func=lambda k: f"{k.prefix}… · {k.name}", key="revoke_pick")
    if c[1].button("Revoke key", key="revoke", width="stretch") and act(
        "Revoke API key", revoke_key, by=by, key_id=key.id
    ):
        flash(f"Revoked {key.prefix}… ({key.name}).")
        st.rerun()


def _webhooks(by: int, team_names: dict[int, str]) -> None:
    st.subheader("Outgoing webhooks")
    st.caption(
        "Signed POSTs (X-SLAR-Signature: sha256 HMAC of the body) on incident events, retried with backoff."
    )
    with db() as session:
        subs = hooks.list_webhooks(session=session)
        verdict = any_team_edit(session, by, team_names, "subscribe webhooks")
    if subs:
        st.dataframe(
            [
                {
                    "id": h.id,
                    "name": h.name,
                    "url": h.url,
                    "events": ", ".join(h.events),
                    "team": team_names.get(h.team_id, "all"),
                    "active": h.active,
                }
                for h in subs
            ],
            hide_index=True,
            width="stretch",
        )
        pick = st.selectbox("Delivery log of", subs, format_func=lambda h: h.name, key="hook_pick")
        with db() as session:
            log = hooks.deliveries(session=session, webhook_id=pick.id, limit=50)
        st.dataframe(
            [
                {
                    "incident": d.incident_id,
                    "event": d.kind,
                    "status": d.status,
                    "attempts": d.attempts,
                    "HTTP": d.last_status_code,
                    "error": d.last_error,
                    "at": d.created_at,
                    "sent": d.sent_at,
                }
                for d in log
            ],
            hide_index=True,
            width="stretch",
        )
    with st.form("new_hook", clear_on_submit=True):
        lock_note(verdict)
        c = st.columns([1, 2, 2, 1])
        name = c[0].text_input("Name")
        url = c[1].text_input("URL")
        events = c[2].multiselect("Events", WEBHOOK_EVENTS, default=["triggered", "acknowledged", "resolved"])
        team = c[3].selectbox(
            "Team", [None, *team_names], format_func=lambda t: team_names.get(t, "all teams")
        )
        if st.form_submit_button("Subscribe", disabled=verdict.disabled, help=verdict.help):
            made = act(
                "Subscribe webhook",
                hooks.create_webhook,
                by=by,
                name=name,
                url=url,
                events=events,
                team_id=team,
            )
            if made:
                st.session_state[NEW_KEY + "_hook"] = made[1]
                st.rerun()
    secret = st.session_state.pop(NEW_KEY + "_hook", None)
    if secret:
        st.warning("The signing secret, shown once:", icon=":material/key:")
        st.code(secret, language=None)


who = current_user()
st.title("API keys & webhooks")
show_flash()
with db() as session:
    team_names = {t.id: t.name for t in directory.list_teams(session=session)}
    names = {u.id: u.name for u in directory.list_users(session=session)}
    mine = list_keys(session=session, by=who.user_id)
    everyone = list_keys(session=session, by=who.user_id, all_users=True) if who.role == "admin" else []
st.subheader("Your API keys")
st.caption("A key acts as you, with no more rights than you have now; scopes and a team can narrow it.")
_show_new_key()
_keys_table(mine, team_names, names)
_new_key_form(who.user_id, team_names)
_revoke(everyone or mine, who.user_id)
if everyone:
    with st.expander(f"Every user's keys ({len(everyone)})"):
        _keys_table(everyone, team_names, names)
_webhooks(who.user_id, team_names)
