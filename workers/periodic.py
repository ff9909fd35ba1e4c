"""Periodic jobs the scheduler process enqueues: (name, every N seconds, queue, actor name).

A capability adds its job with one line here; the scheduler only enqueues, workers do the work.
"""

from __future__ import annotations

PERIODIC: list[tuple[str, float, str, str]] = [
    ("sweep", 15.0, "escalation", "sweep"),
    ("reclaim-sends", 5.0, "notify", "reclaim_sends"),
    ("export", 300.0, "export", "export"),
    ("monitors-tick", 1.0, "monitors", "monitor_tick"),
    ("agent-pilot-sweep", 60.0, "agent", "pilot_sweep"),
    ("calendars-refresh", 900.0, "export", "refresh_calendars"),
    ("webhooks-sweep", 2.0, "webhooks", "webhook_sweep"),
    ("service-timers", 15.0, "escalation", "service_timers"),
    ("shift-notices", 60.0, "notify", "shift_notices"),
]
