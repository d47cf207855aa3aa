"""Settings from the environment (SPEC.md §3), read once at start-up."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Role(StrEnum):
    API = "api"
    WORKER = "worker"
    RELAY = "relay"
    WEBHOOKS = "webhooks"
    SMTP = "smtp"  # the bounce and complaint mailbox (F2)
    REGISTRY = "registry"  # seed 004's address registry: consumes directory events, answers the lookup (R5)
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
    # Every key IEP writes in Redis starts with this, so deployments (or test runs) can share one Redis.
    redis_key_prefix: str = Field(default="iep:", min_length=1, max_length=64)
    rabbitmq_url: str | None = None
    queue_backend: QueueBackend = QueueBackend.POSTGRES
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Roles without the API serve /metrics, /health and /ready here (every process its own: docs/operations.md);
    # 0 = any free port (logged as operations_listening).
    metrics_port: int = Field(default=9464, ge=0, le=65535)
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
    smtp_pool_size: int = Field(default=16, ge=1, le=256)
    smtp_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    # VERP: the envelope sender becomes bounces+<messageId>@BOUNCE_DOMAIN, so a bounce names its message.
    bounce_domain: str | None = None
    # Role smtp: where it listens for DSNs and ARF reports, and the certificate it offers with STARTTLS.
    smtp_listen: str = "127.0.0.1:2525"
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    # Largest report taken at DATA; a bounce quoting a huge original is cut short with 552.
    smtp_max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    default_provider: str = "smtp"
    provider_timeout_seconds: float = Field(default=30.0, gt=0)
    provider_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    sendgrid_api_key: str | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com"
    mailgun_api_key: str | None = None
    mailgun_domain: str | None = None
    mailgun_base_url: str = "https://api.mailgun.net"
    postmark_server_token: str | None = None
    postmark_message_stream: str = "outbound"
    postmark_base_url: str = "https://api.postmarkapp.com"
    resend_api_key: str | None = None
    resend_base_url: str = "https://api.resend.com"
    ses_region: str | None = None
    ses_access_key_id: str | None = None
    ses_secret_access_key: str | None = None
    ses_endpoint: str | None = None
    ses_configuration_set: str | None = None
    # Provider events in (F1): what proves a POST /webhooks/{provider} came from the provider. Unset = refused.
    ses_webhook_topic_arns: str | None = None  # comma separated SNS topic ARNs
    sendgrid_webhook_public_key: str | None = None  # base64 DER ECDSA key of the Signed Event Webhook
    mailgun_webhook_signing_key: str | None = None
    postmark_webhook_user: str | None = None
    postmark_webhook_password: str | None = None
    resend_webhook_secret: str | None = None  # whsec_<base64>
    # Circuit breaker (D-3): open at this failure ratio over at least this many calls in the window.
    breaker_failure_ratio: float = Field(default=0.5, gt=0, le=1)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_window_seconds: float = Field(default=60.0, gt=0)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    # Sends per second each provider may take, shared by every worker, e.g. {"sendgrid": 100}.
    provider_rate_limits: dict[str, float] = Field(default_factory=dict)
    # Consecutive hard bounces after which an address is suppressed (seed 003 §12); a complaint needs one.
    suppress_after_hard_bounces: int = Field(default=3, ge=1, le=1000)
    # Domain for Message-ID headers when the sender's own domain is not used.
    message_id_domain: str = "iep.local"
    # Sender domains (S5): unset = required everywhere but the `dev` role; false = any domain in the tenant's
    # list may send, verified or not. A tenant with no domains never sends.
    sender_domains_require_verified: bool | None = None
    # What the tenant's SPF record must include; unset = `_spf.<BOUNCE_DOMAIN>`.
    spf_include: str | None = None
    # Resolvers for domain verification, `host[:port]` comma separated (e.g. 127.0.0.1:5353, [::1]:53);
    # empty = the system's (/etc/resolv.conf). Each lookup, CNAME hops included, ends within the timeout.
    dns_nameservers: str = ""
    dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    iep_encryption_key: str | None = None
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    # Attachments are kept here when S3_BUCKET is unset (dev); else in the bucket.
    attachments_dir: Path = Path(".iep/attachments")
    # Attachments are deleted from storage this many days after their message was accepted (0 = kept for ever).
    attachment_retention_days: int = Field(default=30, ge=0)
    # Bodies (raw and rendered) of finished messages are blanked, and their events deleted, after this many days
    # (0 = kept for ever). The message row, its status and ids stay.
    message_retention_days: int = Field(default=0, ge=0)
    retention_sweep_interval_seconds: float = Field(default=3600.0, gt=0)
    otel_exporter_otlp_endpoint: str | None = None

    log_level: str = "info"
    log_json: bool = True

    worker_concurrency: int = Field(default=32, ge=1, le=1024)
    # Sends of one tenant in flight in one worker process, so one tenant's flood leaves slots to the others
    # (unset: half of WORKER_CONCURRENCY, rounded up; 0: no cap). See `worker_tenant_cap`.
    worker_tenant_concurrency: int | None = Field(default=None, ge=0, le=1024)
    # Processes of the worker and API roles on this host (one core each); the role's parent supervises them.
    worker_processes: int = Field(default=1, ge=1, le=64)
    api_workers: int = Field(default=1, ge=1, le=64)
    # A claimed message or job not finished within the lease is handed to another worker.
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    worker_shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    retry_delays_seconds: list[int] = Field(default=[60, 300, 900, 3600])
    max_attempts: int = Field(default=5, ge=1, le=50)
    # Crashes of the send step (bugs, unexpected data) a message may cause before it is dead-lettered.
    worker_max_crashes: int = Field(default=3, ge=1, le=50)
    # A suspended tenant's due mail is held (not sent, not failed) and looked at again this often; activating
    # the tenant re-queues it at once (ADR 0006).
    tenant_suspended_hold_seconds: float = Field(default=300.0, gt=0)
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)
    # A job that should have run this long ago and has not is re-published from the database (a broker lost it):
    # half a lease by default, so mail a restarted broker forgot moves again within a minute (ADR 0003).
    queue_sweep_after_seconds: float = Field(default=30.0, gt=0)
    queue_sweep_interval_seconds: float = Field(default=10.0, gt=0)
    # redis backend: how often BullMQ looks for jobs whose consumer died.
    queue_stalled_check_seconds: float = Field(default=15.0, gt=0)

    # Tenant webhooks (F4, S9). Internal receivers an operator allows despite the SSRF guard, e.g.
    # "10.0.0.0/8,127.0.0.0/8"; plain http:// receivers (unset: allowed only in the `dev` role).
    webhook_allowed_cidrs: str = ""
    webhook_allow_http: bool | None = None
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1, le=1024)

    # Directory and address registry (seed 004, SPEC R2, R5). The registry role listens on REGISTRY_LISTEN; the
    # API reaches it at REGISTRY_URL (unset: http://REGISTRY_LISTEN, right when both run on one machine).
    registry_listen: str = "127.0.0.1:8100"
    registry_url: str | None = None
    registry_timeout_seconds: float = Field(default=2.0, gt=0)
    registry_concurrency: int = Field(default=8, ge=1, le=1024)
    # Transient failures (the registry's database away) an event is retried for, with exponential backoff, before
    # it is dead-lettered.
    registry_max_attempts: int = Field(default=8, ge=1, le=100)

    # The operator's credential for the admin API (/v1/admin/...), sent as `Authorization: Bearer <token>`.
    # Unset: the admin API answers 404, as if it did not exist. Tenant keys never open it.
    iep_admin_token: SecretStr | None = None

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
    # Seconds of render processes one tenant's renders may spend running into the timeout per minute (0: no cap);
    # past it the tenant's renders are retried later instead of taking a process only to be killed again.
    render_tenant_budget_seconds: float = Field(default=10.0, ge=0)
    # The share of each render pool one tenant may hold at once (at least one process; 1: no cap), so the rest
    # is always free for other tenants while one tenant's renders run into the timeout.
    render_tenant_max_share: float = Field(default=0.5, gt=0, le=1)

    @field_validator("retry_delays_seconds")
    @classmethod
    def _delays_positive(cls, value: list[int]) -> list[int]:
        if not value or any(d <= 0 for d in value):
            raise ValueError("must be a non-empty list of positive seconds, e.g. [60,300,900,3600]")
        return value

    @field_validator("smtp_listen", "registry_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:2525 or 0.0.0.0:25")
        return value

    @model_validator(mode="after")
    def _smtp_tls_pair(self) -> Settings:
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            raise ValueError("SMTP_TLS_CERT and SMTP_TLS_KEY are set together (STARTTLS needs both) or not at all")
        return self

    @model_validator(mode="after")
    def _broker_url_present(self) -> Settings:
        if self.queue_backend is QueueBackend.RABBITMQ and not self.rabbitmq_url:
            raise ValueError("RABBITMQ_URL is required when QUEUE_BACKEND=rabbitmq")
        if self.queue_backend is QueueBackend.REDIS and not self.redis_url:
            raise ValueError("REDIS_URL is required when QUEUE_BACKEND=redis")
        return self

    @field_validator("webhook_allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        from iep.tenant_webhooks.ssrf import parse_cidrs

        parse_cidrs(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("webhook_allow_http", mode="before")
    @classmethod
    def _unset_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def worker_tenant_cap(self) -> int:
        """WORKER_TENANT_CONCURRENCY resolved: 0 = no cap (a cap at or above WORKER_CONCURRENCY caps nothing).

        Unset, it depends on the queue: the postgres queue already claims tenants in turn, so a cap would only
        cost a lone busy tenant half its slots; a broker hands jobs over first in, first out, so there one
        tenant's backlog is kept to half the slots, and the rest waits (or goes back) behind other tenants' jobs.
        """
        if self.worker_tenant_concurrency is None:
            return 0 if self.queue_backend is QueueBackend.POSTGRES else -(-self.worker_concurrency // 2)
        return self.worker_tenant_concurrency

    @property
    def registry_base_url(self) -> str:
        return (self.registry_url or f"http://{self.registry_listen}").rstrip("/")

    @property
    def webhooks_allow_http(self) -> bool:
        if self.webhook_allow_http is not None:
            return self.webhook_allow_http
        return self.service_role is Role.DEV

    @field_validator("sender_domains_require_verified", mode="before")
    @classmethod
    def _unset_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def senders_must_be_verified(self) -> bool:
        if self.sender_domains_require_verified is not None:
            return self.sender_domains_require_verified
        return self.service_role is not Role.DEV

    @property
    def platform_bounce_domain(self) -> str:
        """The domain a tenant's return-path CNAME points at (BOUNCE_DOMAIN, else MESSAGE_ID_DOMAIN)."""
        return (self.bounce_domain or self.message_id_domain).strip().rstrip(".").lower()

    @property
    def spf_include_domain(self) -> str:
        return (self.spf_include or f"_spf.{self.platform_bounce_domain}").strip().rstrip(".").lower()

    @field_validator("dns_nameservers")
    @classmethod
    def _nameservers(cls, value: str) -> str:
        from iep.sending_domains.nameservers import parse_nameservers

        parse_nameservers(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("iep_encryption_key")
    @classmethod
    def _key_ring(cls, value: str | None) -> str | None:
        if value:
            from iep.kit.crypto import CryptoError, KeyRing

            try:
                KeyRing.parse(value)
            except CryptoError as exc:
                raise ValueError(f"{exc}; expected id:base64key[,id:base64key...] (newest first)") from None
        return value

    @field_validator("iep_admin_token", mode="before")
    @classmethod
    def _admin_token(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None  # `IEP_ADMIN_TOKEN=` in an env file means unset
        if isinstance(value, str) and len(value.strip()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
            raise ValueError("must be a postgresql:// URL")
        return value


class ConfigError(SystemExit):
    """Bad configuration: the message names each variable at fault and never repeats a value."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            if not err["loc"]:  # a rule across variables names them in its message
                lines.append(f"  {err['msg'].removeprefix('Value error, ')}")
                continue
            # The variable and what is wrong with it, never its value: a value may be a key ring or a password.
            name = str(err["loc"][0]).upper()
            lines.append(f"  {name}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("IEP cannot start, bad configuration:\n" + "\n".join(lines)) from None
