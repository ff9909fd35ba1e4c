"""The demo organisation: teams, people, services and the alerts each service tends to raise."""

from __future__ import annotations

from dataclasses import dataclass

from app.seed_plan import AlertDef, ServiceDef

DEMO_PASSWORD = "slar-demo"  # every demo account signs in with it; `slar up` prints it
ADMIN_EMAIL = "admin@demo.slar.dev"


@dataclass(frozen=True)
class TeamDef:
    name: str
    zone: str
    slack_channel: str
    description: str
    rotation: str  # daily | weekly
    handoff_hour: int


@dataclass(frozen=True)
class PersonDef:
    name: str
    zone: str
    team: str
    team_role: str  # lead | responder
    email_delay: int | None  # minutes before an e-mail follows the push; None: no e-mail rule


TEAMS = (
    TeamDef("Payments", "Europe/Berlin", "#payments-oncall", "Card processing and checkout", "weekly", 9),
    TeamDef(
        "Platform", "America/New_York", "#platform-oncall", "Kubernetes, databases, network", "weekly", 10
    ),
    TeamDef("Mobile", "Asia/Kolkata", "#mobile-oncall", "Mobile backend and push delivery", "daily", 8),
)

PEOPLE = (
    PersonDef("Anna Berg", "Europe/Berlin", "Payments", "lead", 5),
    PersonDef("Jonas Weber", "Europe/Berlin", "Payments", "responder", None),
    PersonDef("Priya Nair", "Asia/Kolkata", "Payments", "responder", 10),
    PersonDef("Liam Walsh", "UTC", "Payments", "responder", 5),
    PersonDef("Sofia Rossi", "Europe/Berlin", "Payments", "responder", None),
    PersonDef("Marcus Hill", "America/New_York", "Platform", "lead", 5),
    PersonDef("Emily Chen", "America/Los_Angeles", "Platform", "responder", 10),
    PersonDef("Grace Kim", "America/New_York", "Platform", "responder", None),
    PersonDef("Oliver Smith", "UTC", "Platform", "responder", 5),
    PersonDef("Diego Alvarez", "America/New_York", "Platform", "responder", None),
    PersonDef("Arjun Mehta", "Asia/Kolkata", "Mobile", "lead", 5),
    PersonDef("Chloe Taylor", "Australia/Sydney", "Mobile", "responder", 10),
    PersonDef("Rahul Gupta", "Asia/Kolkata", "Mobile", "responder", None),
    PersonDef("Mia Wilson", "Australia/Sydney", "Mobile", "responder", 5),
    PersonDef("Noah Brown", "UTC", "Mobile", "responder", None),
)

SERVICES = (
    ServiceDef(
        "payments-api",
        "Payments",
        "Card authorisation and capture API",
        per_day=7.0,
        integrations=(("alertmanager", "Prometheus", True), ("generic", "Synthetic checks", False)),
        alerts=(
            AlertDef("HighErrorRate", "5xx rate above 2%", "critical", 3),
            AlertDef("HighLatencyP99", "p99 latency above 800 ms", "error", 4),
            AlertDef("PodCrashLooping", "Pod crash looping", "error", 2, hosts=("api-0", "api-1", "api-2")),
            AlertDef("CheckoutSynthetic", "Synthetic checkout failed", "critical", 1, integration=1),
            AlertDef("QueueBacklog", "Capture queue backlog growing", "warning", 2, flappy=True),
        ),
    ),
    ServiceDef(
        "checkout-web",
        "Payments",
        "Web checkout front end",
        per_day=4.0,
        integrations=(("grafana", "Grafana", True), ("datadog", "Datadog RUM", True)),
        alerts=(
            AlertDef("FrontendErrors", "JS error rate spike", "warning", 3, integration=1),
            AlertDef("CDNOriginErrors", "CDN origin 5xx", "error", 2),
            AlertDef("ApdexLow", "Apdex below 0.85", "warning", 2, flappy=True),
        ),
    ),
    ServiceDef(
        "kubernetes",
        "Platform",
        "Production Kubernetes clusters",
        per_day=8.0,
        integrations=(("alertmanager", "Cluster Alertmanager", True),),
        alerts=(
            AlertDef("NodeNotReady", "Node not ready", "critical", 2, hosts=("ip-10-0-1-12", "ip-10-0-2-40")),
            AlertDef("KubeDiskPressure", "Disk pressure", "warning", 3),
            AlertDef("KubeAPIErrors", "API server error budget burn", "error", 2),
            AlertDef("CertExpiring", "Certificate expires in < 7 days", "info", 1),
            AlertDef("HPAMaxedOut", "HPA at max replicas", "warning", 2, flappy=True),
        ),
    ),
    ServiceDef(
        "postgres-primary",
        "Platform",
        "Primary PostgreSQL cluster",
        per_day=4.0,
        integrations=(("cloudwatch", "CloudWatch", True), ("datadog", "Datadog", True)),
        alerts=(
            AlertDef(
                "ReplicationLag", "Replication lag above 30 s", "error", 3, hosts=("replica-1", "replica-2")
            ),
            AlertDef("CPUHigh", "CPU above 90%", "warning", 3),
            AlertDef("ConnectionsSaturated", "Connections above 90% of max", "critical", 1, integration=1),
            AlertDef("FreeStorageLow", "Free storage below 10%", "error", 1),
        ),
    ),
    ServiceDef(
        "mobile-backend",
        "Mobile",
        "API behind the iOS and Android apps",
        per_day=6.0,
        integrations=(("datadog", "Datadog", True),),
        alerts=(
            AlertDef("MobileAPI5xx", "5xx rate above 1%", "error", 3),
            AlertDef("LoginFailures", "Login failures spike", "critical", 1),
            AlertDef("SlowEndpoints", "Slow endpoints", "warning", 3, flappy=True),
        ),
    ),
    ServiceDef(
        "push-gateway",
        "Mobile",
        "Push notification delivery",
        per_day=3.0,
        integrations=(("generic", "Push health webhook", True), ("cloudwatch", "CloudWatch", True)),
        alerts=(
            AlertDef("APNsErrors", "APNs rejects above 5%", "error", 2),
            AlertDef("FCMQuota", "FCM quota nearly exhausted", "warning", 1, integration=1),
            AlertDef("PushLag", "Push delivery lag above 60 s", "warning", 2, flappy=True),
        ),
    ),
)
