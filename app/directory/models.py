"""People, teams, services, integrations, routing rules and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

ROLES = ("admin", "responder", "viewer")
TEAM_ROLES = ("lead", "responder", "viewer")
SOURCE_KINDS = (
    "alertmanager",
    "grafana",
    "datadog",
    "cloudwatch",
    "generic",
    "pagerduty",
    "opsgenie",
    "inbound_email",
)
API_SCOPES = ("read", "incidents:write", "config:write")


def _now() -> Any:
    return text("now()")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin','responder','viewer')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    role: Mapped[str] = mapped_column(String(16), default="responder")
    password_hash: Mapped[str | None] = mapped_column(Text)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    # When the user last looked at the incident list: newer incidents carry a "new" marker.
    incidents_seen_at: Mapped[datetime | None]


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    slack_channel: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class TeamMembership(Base):
    __tablename__ = "team_memberships"
    __table_args__ = (CheckConstraint("role IN ('lead','responder','viewer')", name="role"),)

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="responder")


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL")
    )
    # Pages of these severities run people's "important" notification rules.
    important_severities: Mapped[list[str]] = mapped_column(
        JSONB, default=lambda: ["critical"], server_default=text("'[\"critical\"]'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    # An acknowledged incident with no resolve re-triggers after this many minutes (None: never).
    ack_timeout_minutes: Mapped[int | None] = mapped_column(Integer)
    # An open incident with no new alert for this many minutes is resolved by the system.
    auto_resolve_minutes: Mapped[int | None] = mapped_column(Integer)


class Integration(Base):
    __tablename__ = "integrations"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('alertmanager','grafana','datadog','cloudwatch','generic',"
            "'pagerduty','opsgenie','inbound_email')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # Only a SHA-256 of the token is kept; the raw token is shown once at creation.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(12))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    revoked_at: Mapped[datetime | None]
    flap_window_seconds: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    auto_resolve: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    expected_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    rate_per_s: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    rate_burst: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    # Optional Jinja templates by name (grouping_key, title, ...): see app/alerts/templates.py.
    templates: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default=text("'{}'"))


class RoutingRule(Base):
    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("integration_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # [{"field": "labels.team", "op": "equals|regex|exists", "value": "..."}], all must match.
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    target_service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    # Keep evaluating later rules after this one matched (the alert goes to every matching service).
    continue_matching: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('admin','responder','viewer')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    role: Mapped[str] = mapped_column(String(16), default="responder")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # Public API keys: what the key may do (read is always granted), an optional team it is limited
    # to, an expiry, and where it was last used from.
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list, server_default="{}")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    last_used_agent: Mapped[str | None] = mapped_column(Text)
