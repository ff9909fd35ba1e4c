"""Grafana OnCall: fetch its public API (/api/v1), map it to a plan, apply the plan."""

SOURCE = "oncall"
LABEL = "Grafana OnCall"
