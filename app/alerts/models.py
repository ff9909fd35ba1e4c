"""Records kept for webhook sources beyond alerts (SNS subscription confirmations), and the index
the ingest path needs on alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.incidents.models import Alert


class SnsSubscription(Base):
    """An AWS SNS SubscriptionConfirmation: the console shows its link; nothing is fetched."""

    __tablename__ = "sns_subscriptions"
    __table_args__ = (UniqueConstraint("integration_id", "topic_arn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    topic_arn: Mapped[str] = mapped_column(Text)
    subscribe_url: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text, default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    confirmed_at: Mapped[datetime | None]


# Resolve notices find alerts by integration and fingerprint (whatever service they were routed
# to), and so does the look-up of an earlier resolve when a notice is retried.
Index("ix_alerts_integration_fingerprint", Alert.integration_id, Alert.fingerprint)
