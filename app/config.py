"""The one settings object. Nothing else in the product reads os.environ."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    """Accept both the seed's plain name (DATABASE_URL) and the SLAR_-prefixed one."""
    return AliasChoices(name, f"SLAR_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    redis_url: str | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    # Namespaces Dramatiq keys so parallel test runs (and tenants) never share queues.
    redis_namespace: str = Field(default="slar", validation_alias=_env("REDIS_NAMESPACE"))
    # Dramatiq's broker: amqp:// (RabbitMQ) or redis://; unset means the Redis of REDIS_URL.
    broker_url: str | None = Field(default=None, validation_alias=_env("BROKER_URL"))
    # Where the workers and the scheduler serve /metrics (ingest and agent serve it on their own port).
    worker_metrics_port: int = Field(
        default=9191, ge=1, le=65535, validation_alias=_env("WORKER_METRICS_PORT")
    )
    scheduler_metrics_port: int = Field(
        default=9192, ge=1, le=65535, validation_alias=_env("SCHEDULER_METRICS_PORT")
    )
    console_metrics_port: int = Field(
        default=9193, ge=1, le=65535, validation_alias=_env("CONSOLE_METRICS_PORT")
    )
    # Postgres ends a transaction left idle this long (a host cut off mid-transaction), so its row
    # locks never hold up the processes that are still connected. 0 turns it off.
    db_idle_transaction_timeout_s: float = Field(
        default=30.0, ge=0, validation_alias=_env("DB_IDLE_TRANSACTION_TIMEOUT_S")
    )

    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    openai_model: str = Field(default="gpt-4o", validation_alias=_env("OPENAI_MODEL"))
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))

    slack_bot_token: SecretStr | None = Field(default=None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_api_url: str | None = Field(default=None, validation_alias=_env("SLACK_API_URL"))
    firebase_credentials: str | None = Field(default=None, validation_alias=_env("FIREBASE_CREDENTIALS"))
    fcm_endpoint: str | None = Field(default=None, validation_alias=_env("FCM_ENDPOINT"))
    smtp_url: str | None = Field(default=None, validation_alias=_env("SMTP_URL"))
    smtp_from: str = Field(default="slar@localhost", validation_alias=_env("SMTP_FROM"))
    # Signs outbound notification webhooks (X-SLAR-Signature: HMAC-SHA256 of the body).
    webhook_secret: SecretStr | None = Field(default=None, validation_alias=_env("WEBHOOK_SECRET"))
    # Public API: requests a minute per key (429 and Retry-After beyond).
    api_rate_per_minute: int = Field(default=600, ge=1, validation_alias=_env("API_RATE_PER_MINUTE"))
    # Your own Twilio account for SMS and voice; TWILIO_API_URL points the SDK elsewhere (tests).
    twilio_account_sid: str | None = Field(default=None, validation_alias=_env("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: SecretStr | None = Field(default=None, validation_alias=_env("TWILIO_AUTH_TOKEN"))
    twilio_from_number: str | None = Field(default=None, validation_alias=_env("TWILIO_FROM_NUMBER"))
    twilio_api_url: str | None = Field(default=None, validation_alias=_env("TWILIO_API_URL"))
    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_url: str = Field(
        default="https://api.telegram.org", validation_alias=_env("TELEGRAM_API_URL")
    )
    # The secret_token given to Telegram's setWebhook; Telegram sends it back on every update.
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET")
    )
    # Signs the single-use action links in ntfy, Teams and Mattermost pages.
    callback_secret: SecretStr | None = Field(default=None, validation_alias=_env("CALLBACK_SECRET"))
    # Seconds in one escalation "minute": 60 in production; tests walk a policy in seconds.
    escalation_minute_s: float = Field(default=60.0, gt=0, validation_alias=_env("ESCALATION_MINUTE_S"))

    host: str = Field(default="127.0.0.1", validation_alias=_env("HOST"))
    public_url: str | None = Field(default=None, validation_alias=_env("PUBLIC_URL"))
    ingest_port: int = Field(default=8080, ge=1, le=65535, validation_alias=_env("INGEST_PORT"))
    agent_port: int = Field(default=8090, ge=1, le=65535, validation_alias=_env("AGENT_PORT"))
    console_port: int = Field(default=8501, ge=1, le=65535, validation_alias=_env("CONSOLE_PORT"))
    # Where people open the console: every link in a page (Slack, e-mail, push, webhook) starts here.
    console_base_url: str | None = Field(default=None, validation_alias=_env("CONSOLE_URL"))
    data_dir: Path = Field(default=Path(".data"), validation_alias=_env("DATA_DIR"))
    # Inbound e-mail (`slar serve smtp`): integrations receive mail at <token>@<domain>.
    inbound_email_domain: str = Field(default="localhost", validation_alias=_env("INBOUND_EMAIL_DOMAIN"))
    inbound_smtp_port: int = Field(default=2525, ge=1, le=65535, validation_alias=_env("INBOUND_SMTP_PORT"))
    inbound_email_max_bytes: int = Field(
        default=1_048_576, ge=1024, le=50_000_000, validation_alias=_env("INBOUND_EMAIL_MAX_BYTES")
    )

    enable_code_executor: bool = Field(default=False, validation_alias=_env("ENABLE_CODE_EXECUTOR"))
    agent_pilot_enabled: bool = Field(default=False, validation_alias=_env("AGENT_PILOT_ENABLED"))
    # MCP servers the agent may use, as JSON: [{"command": "...", "args": ["..."], "read_only": ["tool"]}];
    # a tool is read-only only when the server marks it readOnlyHint and "read_only" names it.
    agent_mcp_servers: list[dict[str, Any]] = Field(
        default_factory=list, validation_alias=_env("AGENT_MCP_SERVERS")
    )
    agent_approval_timeout_s: int = Field(
        default=600, ge=1, le=86400, validation_alias=_env("AGENT_APPROVAL_TIMEOUT_S")
    )
    # Words that name a production environment in tool arguments (matched as whole words, homoglyphs folded).
    agent_production_environments: list[str] = Field(
        default_factory=lambda: ["prod", "production", "prd", "live"],
        validation_alias=_env("AGENT_PRODUCTION_ENVIRONMENTS"),
    )
    # Whether an admin may approve a tool request made on their own behalf (nobody else ever may).
    agent_admin_self_approval: bool = Field(default=False, validation_alias=_env("AGENT_ADMIN_SELF_APPROVAL"))
    # Hosts that links in model output may point to (the console's host is always allowed).
    agent_link_hosts: list[str] = Field(default_factory=list, validation_alias=_env("AGENT_LINK_HOSTS"))
    # Hosts the command runner's curl may GET; empty means curl is refused.
    agent_runner_hosts: list[str] = Field(default_factory=list, validation_alias=_env("AGENT_RUNNER_HOSTS"))
    # The unprivileged account commands run as when the agent runs as root.
    agent_runner_user: str = Field(default="slar-runner", validation_alias=_env("AGENT_RUNNER_USER"))
    openai_embedding_model: str | None = Field(default=None, validation_alias=_env("OPENAI_EMBEDDING_MODEL"))
    cors_origins: list[str] = Field(default_factory=list, validation_alias=_env("CORS_ORIGINS"))
    oidc_enabled: bool = Field(default=False, validation_alias=_env("OIDC_ENABLED"))
    # Single sign-on through st.login: with a client id set, the console builds Streamlit's [auth]
    # section from these; without one, Streamlit's own .streamlit/secrets.toml [auth] is used as is.
    oidc_client_id: str | None = Field(default=None, validation_alias=_env("OIDC_CLIENT_ID"))
    oidc_client_secret: SecretStr | None = Field(default=None, validation_alias=_env("OIDC_CLIENT_SECRET"))
    # The provider's discovery document (…/.well-known/openid-configuration).
    oidc_server_metadata_url: str | None = Field(
        default=None, validation_alias=_env("OIDC_SERVER_METADATA_URL")
    )
    # Unset: SLAR_CONSOLE_URL + /oauth2callback. Streamlit fills in "{port}" with its own port.
    oidc_redirect_uri: str | None = Field(default=None, validation_alias=_env("OIDC_REDIRECT_URI"))
    # Tests only: one more URL prefix an SNS SigningCertURL may start with (a loopback server).
    sns_cert_url_prefix: str | None = Field(default=None, validation_alias=_env("SNS_CERT_URL_PREFIX"))
    # Signs the console's session cookie (unset: a key derived from DATABASE_URL). The cookie's token is
    # also looked up, hashed, in Postgres, so sessions stay revocable.
    session_secret: SecretStr | None = Field(default=None, validation_alias=_env("SESSION_SECRET"))
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, validation_alias=_env("SESSION_HOURS"))

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, v: str | None) -> str | None:
        if v and not v.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, v: str | None) -> str | None:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return v

    @field_validator("broker_url")
    @classmethod
    def _broker_kind(cls, v: str | None) -> str | None:
        if v and not v.startswith(("amqp://", "amqps://", "redis://", "rediss://", "unix://")):
            raise ValueError("must be an amqp://, amqps://, redis://, rediss:// or unix:// URL")
        return v

    @field_validator("oidc_server_metadata_url")
    @classmethod
    def _discovery_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL of the provider's discovery document")
        return v

    @field_validator("oidc_redirect_uri")
    @classmethod
    def _callback_url(cls, v: str | None) -> str | None:
        # Streamlit serves the provider's callback at /oauth2callback and nowhere else.
        if v and not (v.startswith(("https://", "http://")) and v.rstrip("/").endswith("/oauth2callback")):
            raise ValueError("must be an http(s):// URL ending in /oauth2callback")
        return v

    @property
    def dramatiq_url(self) -> str | None:
        """The broker Dramatiq runs on: BROKER_URL, else REDIS_URL."""
        return self.broker_url or self.redis_url

    @property
    def ingest_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.ingest_port}"

    @property
    def console_url(self) -> str:
        """The console's public base URL, without a trailing slash."""
        return (self.console_base_url or f"http://{self.host}:{self.console_port}").rstrip("/")

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the psycopg 3 driver named, as SQLAlchemy needs it."""
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (run through `slar up` for the embedded database)")
        url = self.database_url
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


class SettingsError(SystemExit):
    """Raised at start when an environment variable holds a wrong value."""


def _explain(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        field = str(e["loc"][0]).upper() if e["loc"] else "?"
        lines.append(f"invalid setting {field}: {e['msg']}")
    return "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once; a wrong value stops the process with the variable's name."""
    try:
        return Settings()
    except ValidationError as err:
        raise SettingsError(_explain(err)) from None


def reset_settings() -> None:
    """Forget the cached settings (tests and `slar up` set the environment, then re-read)."""
    get_settings.cache_clear()
