"""How people are reached: contact methods, notification rules and the deliveries made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

CONTACT_KINDS = (
    "slack",
    "push",
    "email",
    "webhook",
    "sms",
    "voice",
    "ntfy",
    "teams",
    "mattermost",
    "telegram",
)
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "throttled", "cancelled", "not_configured")
RULE_URGENCIES = ("default", "important")
RULE_STEPS = ("notify", "wait")


def _in(values: tuple[str, ...]) -> str:
    return ",".join(f"'{v}'" for v in values)


class ContactMethod(Base):
    __tablename__ = "contact_methods"
    __table_args__ = (CheckConstraint(f"kind IN ({_in(CONTACT_KINDS)})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Slack user id / device token / e-mail address / URL, by kind.
    address: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class NotificationRule(Base):
    """One step of a user's personal rule list: notify by a contact method, or wait N minutes."""

    __tablename__ = "notification_rules"
    __table_args__ = (
        CheckConstraint(f"urgency IN ({_in(RULE_URGENCIES)})", name="urgency"),
        CheckConstraint(f"step IN ({_in(RULE_STEPS)})", name="step"),
        CheckConstraint(
            "(step = 'notify' AND contact_method_id IS NOT NULL) OR (step = 'wait' AND delay_minutes > 0)",
            name="step_shape",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "default" or "important": which list runs is decided per page (escalation level or severity).
    urgency: Mapped[str] = mapped_column(String(16), default="default", server_default="default")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    step: Mapped[str] = mapped_column(String(8), default="notify", server_default="notify")
    contact_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="CASCADE")
    )
    # The length of a wait step (0 on a notify step).
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (CheckConstraint(f"status IN ({_in(DELIVERY_STATUSES)})", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    contact_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(16))
    # A Slack channel or other address when the target is not a person.
    target: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer, default=0)
    repeat_index: Mapped[int] = mapped_column(Integer, default=0)
    # The escalation run (incidents.escalation_token) that planned it: analytics counts pages per run.
    escalation_token: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # (incident, level, repeat, user, contact method): a step that runs twice sends once.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    due_at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)
    sent_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    # The provider's own word on it (Twilio: queued, sent, delivered, failed, no-answer, ...).
    provider_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class UsedCallback(Base):
    """A single-use action link (ntfy, Teams, Mattermost) that was already followed."""

    __tablename__ = "used_callbacks"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    used_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ShiftReminderSetting(Base):
    """Per user: whether shift reminders and handoff notices go out, how early, and by which method."""

    __tablename__ = "shift_reminder_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    lead_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    contact_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="SET NULL")
    )


class ShiftNotice(Base):
    """One reminder or handoff notice sent; the unique key makes several schedulers send it once."""

    __tablename__ = "shift_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    # kind:schedule:user:shift start (UTC ISO): one notice per shift whichever process gets there first.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    shift_start: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
