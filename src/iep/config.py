"""Settings from the environment (SPEC.md §3), read once at start-up."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Role(StrEnum):
    API = "api"
    WORKER = "worker"
    RELAY = "relay"
    ALL = "all"
    DEV = "dev"


class QueueBackend(StrEnum):
    POSTGRES = "postgres"
    RABBITMQ = "rabbitmq"
    REDIS = "redis"


class SmtpTls(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    service_role: Role = Role.ALL
    database_url: str | None = None
    redis_url: str | None = None
    rabbitmq_url: str | None = None
    queue_backend: QueueBackend = QueueBackend.POSTGRES
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Where `make dev` keeps embedded PostgreSQL and the dev inbox.
    state_dir: Path = Path(".iep")
    templates_source_dir: Path = Path("templates")
    templates_dist_dir: Path = Path(".iep/templates-dist")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_pass: str | None = None
    smtp_tls: SmtpTls = SmtpTls.NONE
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_pool_size: int = Field(default=8, ge=1, le=256)
    default_provider: str = "smtp"
    # Domain for Message-ID headers when the sender's own domain is not used.
    message_id_domain: str = "iep.local"

    iep_encryption_key: str | None = None
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    otel_exporter_otlp_endpoint: str | None = None

    log_level: str = "info"
    log_json: bool = True

    worker_concurrency: int = Field(default=16, ge=1, le=1024)
    # A claimed message or job not finished within the lease is handed to another worker.
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    worker_shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    retry_delays_seconds: list[int] = Field(default=[60, 300, 900, 3600])
    max_attempts: int = Field(default=5, ge=1, le=50)
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)

    max_body_bytes: int = Field(default=30 * 1024 * 1024, ge=1024)
    max_recipients: int = Field(default=50, ge=1, le=1000)
    render_timeout_ms: int = Field(default=200, ge=1, le=60_000)
    # Python render processes (Handlebars, Jinja2, MJML); two or more, so a killed one never stalls the rest.
    render_workers: int = Field(default=2, ge=2, le=64)
    # Bun processes rendering .tsx templates, and how many template versions one loads before it is replaced
    # (Bun's module cache never frees a loaded template).
    render_bun_workers: int = Field(default=2, ge=2, le=64)
    render_bun_recycle_after: int = Field(default=100, ge=1)
    # Compiling a template (Bun.build, MJML) is not a render: it gets its own, longer bound.
    render_compile_timeout_ms: int = Field(default=30_000, ge=100)

    @field_validator("retry_delays_seconds")
    @classmethod
    def _delays_positive(cls, value: list[int]) -> list[int]:
        if not value or any(d <= 0 for d in value):
            raise ValueError("must be a non-empty list of positive seconds, e.g. [60,300,900,3600]")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("must be a postgresql:// URL")
        return value


class ConfigError(SystemExit):
    """Bad configuration: the message names each variable at fault."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            lines.append(f"  {name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("IEP cannot start, bad configuration:\n" + "\n".join(lines)) from None
