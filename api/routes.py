"""The API's routers: /api/v1 resources (one module each, one line here) and the front doors."""

from __future__ import annotations

from fastapi import APIRouter

from api.frontdoors import oncall, opsgenie, pagerduty, pagerduty_v1
from api.resources import (
    alert_groups,
    direct_paging,
    escalation,
    integrations,
    notification_rules,
    on_call_shifts,
    oncalls,
    overrides,
    routes,
    schedules,
    suppression,
    teams,
    users,
    webhooks,
)

v1 = APIRouter(prefix="/api/v1")
for resource in (
    alert_groups.router,
    integrations.router,
    routes.router,
    escalation.chains,
    escalation.steps_router,
    schedules.router,
    on_call_shifts.router,
    overrides.router,
    oncalls.router,
    users.router,
    teams.router,
    notification_rules.router,
    webhooks.router,
    suppression.silences,
    suppression.windows,
    direct_paging.router,
):
    v1.include_router(resource)

router = APIRouter()
router.include_router(v1)
for door in (pagerduty, pagerduty_v1, opsgenie, oncall):
    router.include_router(door.router)
