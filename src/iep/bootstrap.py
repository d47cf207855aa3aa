"""Build everything a role needs from settings, once; tests pass fakes for clock and providers."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.attachments.storage import AttachmentStore, LocalStore, S3Store
from iep.config import ConfigError, QueueBackend, Role, Settings
from iep.delivery.batches import SendBatches
from iep.delivery.breaker import BreakerPolicy, BreakerStore, CircuitBreaker, MemoryBreakerStore
from iep.delivery.breaker_batching import BatchingBreakerStore
from iep.delivery.breaker_redis import RedisBreakerStore
from iep.delivery.leases import LeaseKeeper
from iep.delivery.rate_limit import (
    BucketStore,
    FallbackBucketStore,
    MemoryBucketStore,
    RateLimiter,
    RedisBucketStore,
)
from iep.delivery.retry_policy import RetryPolicy
from iep.delivery.routing import ProviderRouter
from iep.delivery.tasks import DeliveryDeps
from iep.directory.deps import DirectoryDeps
from iep.kit.clock import Clock, SystemClock
from iep.kit.crypto import KeyRing
from iep.kit.db import create_engine
from iep.kit.driver import Driver
from iep.kit.sigv4 import AwsCredentials
from iep.limits.limiter import TenantLimiter
from iep.limits.redis_store import RedisLimitStore
from iep.limits.stores import LimitStore, MemoryLimitStore
from iep.messages.accept_limits import AcceptLimits
from iep.messages.group_commit import GroupCommit
from iep.observability import tracing
from iep.observability.metrics import AcceptMetrics
from iep.providers import registry
from iep.providers.base import Provider
from iep.providers.devinbox import DevInboxProvider
from iep.queue.port import SEND_QUEUE, Queue
from iep.queue.postgres import PostgresQueue
from iep.queue.tenant_slots import parking_room
from iep.rendering.budget import RenderBudget
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.compile_cache import CompileCache, CompileLock, FileLock, PostgresLock, RedisLock, RedisStore
from iep.rendering.renderer import Renderer
from iep.suppressions import service as suppressions
from iep.tenancy.auth import Authenticator
from iep.tenant_webhooks.sender import WebhookSender
from iep.tenant_webhooks.ssrf import Guard, Resolver, parse_cidrs, system_resolver
from iep.tenant_webhooks.tasks import LEASE_MARGIN_SECONDS, WebhookDeps

if TYPE_CHECKING:
    from iep.provider_events.simulator import Simulator


@dataclass
class Container:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    # The busiest statements (the send step's and the postgres queue's) run on asyncpg directly (`kit/driver.py`).
    driver: Driver
    clock: Clock
    authenticator: Authenticator
    limits: AcceptLimits
    worker_id: str
    renderer: Renderer
    # Concurrent accepts share one round trip and one commit (SPEC B2).
    accept_group: GroupCommit
    # Per-tenant rate limits and monthly quota at accept (S3, S4).
    tenant_limiter: TenantLimiter
    # Every metric counted as it happens (not read at scrape time) registers here; /metrics renders it.
    metrics_registry: CollectorRegistry
    providers: dict[str, Provider] = field(default_factory=dict)
    attachment_store: AttachmentStore | None = None
    redis: Redis | None = None
    _router: ProviderRouter | None = None
    _leases: LeaseKeeper | None = None
    _send_batches: SendBatches | None = None
    _queues: list[Queue] = field(default_factory=list)
    # A renderer passed in by the caller (tests share one) is the caller's to close.
    owns_renderer: bool = True
    # Role dev only: the dev inbox's simulated outcomes.
    simulator: Simulator | None = None
    # How webhook hosts are resolved for the SSRF guard (tests inject answers).
    resolver: Resolver = system_resolver
    _directory: DirectoryDeps | None = None
    # The postgres queue's jobs are rows beside the messages: an accept writes its job itself (ADR 0009); with a
    # broker it writes an outbox row for the relay.
    accepts_into_queue: bool = False

    def queue(self, name: str = SEND_QUEUE) -> Queue:
        """A new handle on the configured backend (each part of a role consumes or publishes on its own)."""
        queue = make_queue(
            self.settings, self.engine, self.database_url, self.clock, self.worker_id, name, driver=self.driver
        )
        self._queues.append(queue)
        return queue

    def webhook_guard(self) -> Guard:
        s = self.settings
        return Guard(
            allow_http=s.webhooks_allow_http, allowed=parse_cidrs(s.webhook_allowed_cidrs), resolver=self.resolver
        )

    def webhook_deps(self) -> WebhookDeps:
        s = self.settings
        sender = WebhookSender(
            self.webhook_guard(),
            connect_timeout=s.webhook_connect_timeout_seconds,
            total_timeout=s.webhook_timeout_seconds,
        )
        return WebhookDeps(
            engine=self.engine,
            sender=sender,
            clock=self.clock,
            keyring=self.keyring,
            worker_id=self.worker_id,
            lease=timedelta(seconds=s.webhook_timeout_seconds + LEASE_MARGIN_SECONDS),
        )

    @property
    def router(self) -> ProviderRouter:
        if self._router is None:
            s = self.settings
            # Shared through Redis across workers when REDIS_URL is set (D7); this process's own otherwise.
            breaker_store: BreakerStore = (
                BatchingBreakerStore(RedisBreakerStore(self.redis, prefix=s.redis_key_prefix))
                if self.redis
                else MemoryBreakerStore()
            )
            buckets: BucketStore = (
                FallbackBucketStore(RedisBucketStore(self.redis, prefix=s.redis_key_prefix))
                if self.redis
                else MemoryBucketStore()
            )
            policy = BreakerPolicy(
                failure_ratio=s.breaker_failure_ratio,
                min_calls=s.breaker_min_calls,
                window_seconds=s.breaker_window_seconds,
                cooldown_seconds=s.breaker_cooldown_seconds,
                probe_timeout_seconds=max(s.breaker_cooldown_seconds, s.provider_timeout_seconds + 5),
            )
            self._router = ProviderRouter(
                self.providers,
                s.default_provider,
                breaker=CircuitBreaker(breaker_store, self.clock, policy),
                limiter=RateLimiter(buckets, self.clock, s.provider_rate_limits),
                settings=s,
                keyring=self.keyring,
            )
        return self._router

    @property
    def directory(self) -> DirectoryDeps:
        """The directory's registry client, metrics and audit writer (seed 004), made on first use."""
        if self._directory is None:
            self._directory = DirectoryDeps.build(self.settings, self.engine, self.clock, self.metrics_registry)
        return self._directory

    @property
    def keyring(self) -> KeyRing | None:
        key = self.settings.iep_encryption_key
        return KeyRing.parse(key) if key else None

    def delivery_deps(self) -> DeliveryDeps:
        return DeliveryDeps(
            engine=self.engine,
            router=self.router,
            clock=self.clock,
            policy=RetryPolicy(tuple(self.settings.retry_delays_seconds)),
            lease=timedelta(seconds=self.settings.worker_lease_seconds),
            worker_id=self.worker_id,
            attachments=self.attachment_store,
            keyring=self.keyring,
            renderer=self.renderer,
            max_crashes=self.settings.worker_max_crashes,
            hold=timedelta(seconds=self.settings.tenant_suspended_hold_seconds),
            leases=self.leases,
            batches=self.send_batches,
        )

    @property
    def send_batches(self) -> SendBatches:
        if self._send_batches is None:
            lease = timedelta(seconds=self.settings.worker_lease_seconds)
            self._send_batches = SendBatches(self.driver, self.clock, owner=self.worker_id, lease=lease)
        return self._send_batches

    @property
    def leases(self) -> LeaseKeeper:
        if self._leases is None:
            lease = timedelta(seconds=self.settings.worker_lease_seconds)
            self._leases = LeaseKeeper(self.engine, self.clock, owner=self.worker_id, lease=lease)
        return self._leases

    async def close(self) -> None:
        if self._leases is not None:
            await self._leases.close()
        if self.simulator is not None:
            await self.simulator.close()
        for queue in self._queues:
            await queue.close()
        if self._router is not None:
            await self._router.close()
        if self._directory is not None:
            await self._directory.close()
        if self.attachment_store is not None:
            await self.attachment_store.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.owns_renderer:
            await self.renderer.close()
        await self.driver.close()
        await self.engine.dispose()


def make_queue(
    settings: Settings,
    engine: AsyncEngine,
    database_url: str,
    clock: Clock,
    worker_id: str,
    name: str = SEND_QUEUE,
    *,
    driver: Driver | None = None,
) -> Queue:
    backend = settings.queue_backend
    concurrency = settings.worker_concurrency if name == SEND_QUEUE else settings.webhook_concurrency
    # The send worker holds jobs of tenants at their cap parked beside those in flight; a broker that hands out
    # only `concurrency` unsettled jobs would stop there, and other tenants' jobs would never reach it.
    held = concurrency + (parking_room(concurrency, settings.worker_tenant_cap) if name == SEND_QUEUE else 0)
    if backend is QueueBackend.RABBITMQ:
        from iep.queue.rabbitmq import RabbitQueue

        assert settings.rabbitmq_url is not None  # checked by Settings
        return RabbitQueue(settings.rabbitmq_url, clock, prefetch=held, queue=name)
    if backend is QueueBackend.REDIS:
        from iep.queue.redis_bullmq import RedisQueue

        assert settings.redis_url is not None  # checked by Settings
        return RedisQueue(
            settings.redis_url,
            clock,
            concurrency=held,
            lock_seconds=settings.worker_lease_seconds,
            stalled_check_seconds=settings.queue_stalled_check_seconds,
            queue=name,
        )
    return PostgresQueue(
        engine,
        database_url,
        clock,
        worker_id=worker_id,
        lease_seconds=settings.worker_lease_seconds,
        batch_size=min(concurrency, 64),
        queue=name,
        driver=driver,
    )


def default_providers(settings: Settings) -> dict[str, Provider]:
    try:
        return registry.from_settings(settings)
    except registry.ProviderConfigError as exc:
        raise ConfigError(f"IEP cannot start, bad configuration:\n  {exc}") from None


def attachment_store(settings: Settings) -> AttachmentStore:
    """S3-compatible storage when S3_BUCKET is set, else a local directory (dev)."""
    if not settings.s3_bucket:
        return LocalStore(settings.attachments_dir)
    if not (settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key):
        raise ConfigError(
            "IEP cannot start, bad configuration:\n  S3_BUCKET needs S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY"
        )
    credentials = AwsCredentials(settings.s3_access_key, settings.s3_secret_key, settings.s3_region)
    return S3Store(endpoint=settings.s3_endpoint, bucket=settings.s3_bucket, credentials=credentials)


def build(
    settings: Settings,
    database_url: str,
    *,
    clock: Clock | None = None,
    providers: Mapping[str, Provider] | None = None,
    pool_size: int = 20,
    renderer: Renderer | None = None,
    role: str = "iep",
) -> Container:
    clock = clock or SystemClock()
    tracing.setup(role, settings.otel_exporter_otlp_endpoint)
    suppressions.configure(suppress_after_hard_bounces=settings.suppress_after_hard_bounces)
    engine = create_engine(database_url, pool_size=pool_size, application_name=role)
    driver = Driver(database_url, size=8, application_name=role)
    chosen = dict(providers) if providers is not None else default_providers(settings)
    simulator = None
    if settings.service_role is Role.DEV:
        # Mail to the simulator addresses comes back delivered, bounced or complained about (docs/feedback.md).
        from iep.provider_events.simulator import Simulator  # dev only: the feedback loop's stand-in provider

        simulator = Simulator(engine, clock)
        for provider in chosen.values():
            if isinstance(provider, DevInboxProvider):
                provider.on_sent = simulator.sent
    redis = None
    if settings.redis_url:
        # Every accept of a limited tenant makes one call: under a burst, wait for a free connection rather than
        # fail (the default pool refuses past 100 connections).
        # Bounded: a Redis that does not answer costs a request at most a few seconds, never a hang.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=64, timeout=5, socket_connect_timeout=2, socket_timeout=2
        )
        redis = Redis.from_pool(pool)
    registry = CollectorRegistry()
    # Shared by every API replica through Redis (D7); without it, this process's counters and PostgreSQL's quota.
    limit_store: LimitStore = RedisLimitStore(redis, prefix=settings.redis_key_prefix) if redis else MemoryLimitStore()
    limiter = TenantLimiter(limit_store, engine, clock, AcceptMetrics(registry).rate_limit_hits)
    # Key verification buckets are shared by every replica when Redis is there (an attacker spreads over them).
    auth_buckets: BucketStore = (
        FallbackBucketStore(RedisBucketStore(redis, prefix=f"{settings.redis_key_prefix}auth:"))
        if redis
        else MemoryBucketStore()
    )
    return Container(
        settings=settings,
        database_url=database_url,
        engine=engine,
        driver=driver,
        clock=clock,
        authenticator=Authenticator(engine, clock, buckets=auth_buckets),
        limits=AcceptLimits(
            max_recipients=settings.max_recipients,
            max_attempts=settings.max_attempts,
            require_verified_senders=settings.senders_must_be_verified,
        ),
        accept_group=GroupCommit(driver),
        tenant_limiter=limiter,
        metrics_registry=registry,
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
        renderer=renderer or build_renderer(settings, engine=engine),
        owns_renderer=renderer is None,
        providers=chosen,
        attachment_store=attachment_store(settings),
        redis=redis,
        simulator=simulator,
        accepts_into_queue=settings.queue_backend is QueueBackend.POSTGRES,
    )


def build_renderer(settings: Settings, *, engine: AsyncEngine | None = None) -> Renderer:
    """Renderer, templates folder and compile chain; the lock is Redis's, else PostgreSQL's, else a file's (D7)."""
    dist = settings.templates_dist_dir
    lock: CompileLock
    store = None
    closing = None
    if settings.redis_url:
        import redis.asyncio

        client = redis.asyncio.from_url(settings.redis_url)
        p = settings.redis_key_prefix
        lock = RedisLock(client, prefix=f"{p}compile-lock:")
        store, closing = RedisStore(client, prefix=f"{p}compiled:"), client.aclose
    elif engine is not None:
        lock = PostgresLock(engine)
    else:
        lock = FileLock(dist)
    return Renderer(
        timeout_ms=settings.render_timeout_ms,
        python_workers=settings.render_workers,
        catalog=TemplateCatalog(settings.templates_source_dir, reload=settings.service_role is Role.DEV),
        cache=CompileCache(dist, lock, store=store),
        bun_workers=settings.render_bun_workers,
        bun_recycle_after=settings.render_bun_recycle_after,
        compile_timeout_ms=settings.render_compile_timeout_ms,
        closing=closing,
        budget=RenderBudget(seconds=settings.render_tenant_budget_seconds, max_share=settings.render_tenant_max_share),
    )
