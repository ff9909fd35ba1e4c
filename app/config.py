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
    # Seconds in one escalation "minute": 60 in production; tests walk a policy in seconds.
    escalation_minute_s: float = Field(default=60.0, gt=0, validation_alias=_env("ESCALATION_MINUTE_S"))

    host: str = Field(default="127.0.0.1", validation_alias=_env("HOST"))
    public_url: str | None = Field(default=None, validation_alias=_env("PUBLIC_URL"))
    ingest_port: int = Field(default=8080, ge=1, le=65535, validation_alias=_env("INGEST_PORT"))
    agent_port: int = Field(default=8090, ge=1, le=65535, validation_alias=_env("AGENT_PORT"))
    console_port: int = Field(default=8501, ge=1, le=65535, validation_alias=_env("CONSOLE_PORT"))
    data_dir: Path = Field(default=Path(".data"), validation_alias=_env("DATA_DIR"))

    enable_code_executor: bool = Field(default=False, validation_alias=_env("ENABLE_CODE_EXECUTOR"))
    agent_pilot_enabled: bool = Field(default=False, validation_alias=_env("AGENT_PILOT_ENABLED"))
    # MCP servers the agent may use, as JSON: [{"command": "...", "args": ["..."]}].
    agent_mcp_servers: list[dict[str, Any]] = Field(
        default_factory=list, validation_alias=_env("AGENT_MCP_SERVERS")
    )
    agent_approval_timeout_s: int = Field(
        default=600, ge=1, le=86400, validation_alias=_env("AGENT_APPROVAL_TIMEOUT_S")
    )
    openai_embedding_model: str | None = Field(default=None, validation_alias=_env("OPENAI_EMBEDDING_MODEL"))
    cors_origins: list[str] = Field(default_factory=list, validation_alias=_env("CORS_ORIGINS"))
    oidc_enabled: bool = Field(default=False, validation_alias=_env("OIDC_ENABLED"))

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

    @property
    def ingest_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.ingest_port}"

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
