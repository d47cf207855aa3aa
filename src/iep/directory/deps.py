"""What the directory's endpoints and parts share in one process: the registry client, metrics, the audit writer."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.config import Settings
from iep.directory.audit import AuditWriter
from iep.directory.registry_client import RegistryClient
from iep.kit.clock import Clock
from iep.observability.metrics import DirectoryMetrics


@dataclass
class DirectoryDeps:
    checker: RegistryClient
    metrics: DirectoryMetrics
    audit: AuditWriter

    @classmethod
    def build(cls, settings: Settings, engine: AsyncEngine, clock: Clock, registry: CollectorRegistry) -> DirectoryDeps:
        metrics = DirectoryMetrics(registry)
        checker = RegistryClient(settings.registry_base_url, timeout=settings.registry_timeout_seconds, metrics=metrics)
        return cls(checker=checker, metrics=metrics, audit=AuditWriter(engine, clock))

    async def close(self) -> None:
        await self.checker.close()
