"""PagerDuty: fetch its REST API v2, map it to a plan; applied by importers.apply."""

SOURCE = "pagerduty"
LABEL = "PagerDuty"
