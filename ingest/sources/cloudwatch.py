"""Amazon CloudWatch alarms delivered through an SNS HTTP(S) subscription.

SNS envelope: Type (Notification|SubscriptionConfirmation|UnsubscribeConfirmation), MessageId,
TopicArn, Message (the alarm as a JSON string), SubscribeURL (confirmations).
Alarm: AlarmName, AWSAccountId, Region, AlarmArn, NewStateValue, NewStateReason, StateChangeTime,
Trigger (MetricName, Namespace, Dimensions).
Dedup and fingerprint: ``AlarmName|AWSAccountId|region`` (region from AlarmArn, else Region).
Action: ALARM triggers, OK resolves, INSUFFICIENT_DATA changes nothing.
Severity: error, or the ``severity=<word>`` token in AlarmDescription mapped as Alertmanager's.
A SubscriptionConfirmation yields no alert; `subscription()` returns it so the console can show
its confirm link (nothing is fetched).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.alerts.events import AlertEvent
from app.errors import Invalid
from ingest.sources import alertmanager
from ingest.sources._common import obj, severity_from, summary, text, timestamp

KIND = "cloudwatch"
TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
STATES = {"ALARM": "trigger", "OK": "resolve", "INSUFFICIENT_DATA": None}
_SEVERITY = re.compile(r"severity\s*[=:]\s*(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Subscription:
    topic_arn: str
    subscribe_url: str
    message_id: str


def _envelope(payload: Any) -> tuple[Mapping[str, Any], str]:
    body = obj(payload, "body")
    kind = text(body, "Type", "Type", required=True)
    if kind not in TYPES:
        raise Invalid(f"Type must be one of {', '.join(TYPES)}", field="Type")
    return body, kind


def subscription(payload: Any) -> Subscription | None:
    """The SubscriptionConfirmation in an SNS envelope, or None for any other message."""
    body, kind = _envelope(payload)
    if kind != "SubscriptionConfirmation":
        return None
    url = text(body, "SubscribeURL", "SubscribeURL", required=True)
    if not url.startswith("https://"):
        raise Invalid("SubscribeURL must be an https:// URL", field="SubscribeURL")
    return Subscription(
        topic_arn=text(body, "TopicArn", "TopicArn", required=True),
        subscribe_url=url,
        message_id=text(body, "MessageId", "MessageId"),
    )


def _alarm(body: Mapping[str, Any]) -> Mapping[str, Any]:
    message = body.get("Message")
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            raise Invalid("Message must hold the CloudWatch alarm as JSON", field="Message") from None
    return obj(message, "Message")


def _region(alarm: Mapping[str, Any]) -> str:
    arn = text(alarm, "AlarmArn", "Message.AlarmArn")
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else text(alarm, "Region", "Message.Region")


def _dimensions(alarm: Mapping[str, Any]) -> dict[str, str]:
    trigger = alarm.get("Trigger")
    if not isinstance(trigger, Mapping):
        return {}
    labels = {k: str(trigger[k]) for k in ("MetricName", "Namespace") if isinstance(trigger.get(k), str)}
    dims = trigger.get("Dimensions")
    for d in dims if isinstance(dims, list) else []:
        if isinstance(d, Mapping) and isinstance(d.get("name"), str):
            labels[d["name"]] = str(d.get("value", ""))
    return labels


def parse(payload: Any) -> list[AlertEvent]:
    """SNS Notification carrying a CloudWatch alarm → one event; other SNS types → none."""
    body, kind = _envelope(payload)
    if kind != "Notification":
        return []
    alarm = _alarm(body)
    name = text(alarm, "AlarmName", "Message.AlarmName", required=True)
    state = text(alarm, "NewStateValue", "Message.NewStateValue", required=True)
    if state not in STATES:
        raise Invalid(
            "Message.NewStateValue must be ALARM, OK or INSUFFICIENT_DATA", field="Message.NewStateValue"
        )
    action = STATES[state]
    if action is None:
        return []
    account = text(alarm, "AWSAccountId", "Message.AWSAccountId")
    region = _region(alarm)
    identity = f"{name}|{account}|{region}"
    description = text(alarm, "AlarmDescription", "Message.AlarmDescription")
    word = _SEVERITY.search(description)
    labels = {"AlarmName": name, "account": account, "region": region, **_dimensions(alarm)}
    return [
        AlertEvent(
            fingerprint=identity,
            dedup_key=identity,
            action=action,  # type: ignore[arg-type]
            summary=summary(
                f"{name}: {text(alarm, 'NewStateReason', 'Message.NewStateReason')}".rstrip(": ")
            ),
            severity=severity_from(word.group(1) if word else None, alertmanager.SEVERITIES),
            source=f"aws:{account}:{region}",
            labels=labels,
            annotations={"description": description, "state": state},
            starts_at=timestamp(alarm.get("StateChangeTime"), "Message.StateChangeTime"),
            raw=dict(alarm),
        )
    ]
