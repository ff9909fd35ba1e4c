"""The public REST API (/api/v1) and the PagerDuty, Opsgenie and Grafana OnCall front doors."""
