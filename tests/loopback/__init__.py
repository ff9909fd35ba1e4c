"""Loopback stand-ins that speak the wire protocols of Slack, FCM v1 and SMTP, recording every call."""
