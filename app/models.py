"""Imports every domain's models so Base.metadata knows the whole schema (Alembic, tests)."""

from app.alerts import models as alerts_models
from app.assistant import models as assistant_models
from app.auth import models as auth_models
from app.directory import models as directory_models
from app.escalation import models as escalation_models
from app.escalation import step_models as escalation_step_models
from app.imports import models as imports_models
from app.incidents import models as incidents_models
from app.monitors import models as monitors_models
from app.notifications import models as notifications_models
from app.periodic import models as periodic_models
from app.runbooks import models as runbooks_models
from app.schedules import models as schedules_models
from app.suppression import models as suppression_models
from app.webhooks import models as webhooks_models

__all__ = [
    "alerts_models",
    "assistant_models",
    "auth_models",
    "directory_models",
    "escalation_models",
    "escalation_step_models",
    "imports_models",
    "incidents_models",
    "monitors_models",
    "notifications_models",
    "periodic_models",
    "runbooks_models",
    "schedules_models",
    "webhooks_models",
    "suppression_models",
]
