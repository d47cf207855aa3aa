"""Build everything a role needs from settings, once; tests pass fakes for clock and providers."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from iep.config import QueueBackend, Settings
from iep.delivery.retry_policy import RetryPolicy
from iep.delivery.routing import ProviderRouter
from iep.delivery.tasks import DeliveryDeps
from iep.kit.clock import Clock, SystemClock
from iep.kit.db import create_engine
from iep.messages.group_commit import GroupCommit
from iep.messages.service import AcceptLimits
from iep.providers.base import Provider
from iep.providers.devinbox import DevInboxProvider
from iep.providers.smtp import SmtpProvider
from iep.queue.port import Queue
from iep.queue.postgres import PostgresQueue
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
    # Concurrent accepts share one round trip and one commit (SPEC B2).
    accept_group: GroupCommit
    providers: dict[str, Provider] = field(default_factory=dict)
    _router: ProviderRouter | None = None

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
        )

    async def close(self) -> None:
        if self._router is not None:
            await self._router.close()
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
        accept_group=GroupCommit(engine),
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
        providers=dict(providers) if providers is not None else default_providers(settings),
    )
