"""Build everything a role needs from settings, once; tests pass fakes for clock and providers."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from iep.config import QueueBackend, Role, Settings
from iep.delivery.retry_policy import RetryPolicy
from iep.delivery.routing import ProviderRouter
from iep.delivery.tasks import DeliveryDeps
from iep.kit.clock import Clock, SystemClock
from iep.kit.db import create_engine
from iep.messages.service import AcceptLimits
from iep.providers.base import Provider
from iep.providers.devinbox import DevInboxProvider
from iep.providers.smtp import SmtpProvider
from iep.queue.port import Queue
from iep.queue.postgres import PostgresQueue
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.compile_cache import CompileCache, CompileLock, FileLock, PostgresLock, RedisLock, RedisStore
from iep.rendering.renderer import Renderer
from iep.tenancy.auth import Authenticator


@dataclass
class Container:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    clock: Clock
    authenticator: Authenticator
    limits: AcceptLimits
    worker_id: str
    renderer: Renderer
    providers: dict[str, Provider] = field(default_factory=dict)
    _router: ProviderRouter | None = None
    # A renderer passed in by the caller (tests share one) is the caller's to close.
    owns_renderer: bool = True

    def queue(self) -> Queue:
        if self.settings.queue_backend is not QueueBackend.POSTGRES:
            raise SystemExit(
                f"QUEUE_BACKEND={self.settings.queue_backend.value} is not available in this build; use postgres"
            )
        return PostgresQueue(
            self.engine,
            self.database_url,
            self.clock,
            worker_id=self.worker_id,
            lease_seconds=self.settings.worker_lease_seconds,
            batch_size=min(self.settings.worker_concurrency, 64),
        )

    @property
    def router(self) -> ProviderRouter:
        if self._router is None:
            self._router = ProviderRouter(self.providers, self.settings.default_provider)
        return self._router

    def delivery_deps(self) -> DeliveryDeps:
        return DeliveryDeps(
            engine=self.engine,
            router=self.router,
            clock=self.clock,
            policy=RetryPolicy(tuple(self.settings.retry_delays_seconds)),
            lease=timedelta(seconds=self.settings.worker_lease_seconds),
            worker_id=self.worker_id,
            renderer=self.renderer,
        )

    async def close(self) -> None:
        if self._router is not None:
            await self._router.close()
        if self.owns_renderer:
            await self.renderer.close()
        await self.engine.dispose()


def default_providers(settings: Settings) -> dict[str, Provider]:
    return {
        "smtp": SmtpProvider(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_pass,
            tls=settings.smtp_tls.value,
            timeout=settings.smtp_timeout_seconds,
            pool_size=settings.smtp_pool_size,
            message_id_domain=settings.message_id_domain,
        ),
        "devinbox": DevInboxProvider(
            directory=settings.state_dir / "inbox", message_id_domain=settings.message_id_domain
        ),
    }


def build(
    settings: Settings,
    database_url: str,
    *,
    clock: Clock | None = None,
    providers: Mapping[str, Provider] | None = None,
    pool_size: int = 20,
    renderer: Renderer | None = None,
) -> Container:
    clock = clock or SystemClock()
    engine = create_engine(database_url, pool_size=pool_size)
    return Container(
        settings=settings,
        database_url=database_url,
        engine=engine,
        clock=clock,
        authenticator=Authenticator(engine, clock),
        limits=AcceptLimits(max_recipients=settings.max_recipients, max_attempts=settings.max_attempts),
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
        renderer=renderer or build_renderer(settings, engine=engine),
        owns_renderer=renderer is None,
        providers=dict(providers) if providers is not None else default_providers(settings),
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
        lock, store, closing = RedisLock(client), RedisStore(client), client.aclose
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
    )
