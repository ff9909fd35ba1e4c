"""Opsgenie: fetch its REST API v2, map it to a plan; applied by importers.apply."""

SOURCE = "opsgenie"
LABEL = "Opsgenie"
