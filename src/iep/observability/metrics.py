"""Prometheus metrics (O3). Queue and outbox figures are read at scrape time from the database and the broker,
so they are right whatever number of processes run each role."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.outbox import repository as outbox_repository
from iep.queue.port import Queue


class AcceptMetrics:
    """Counted as requests are answered, in each API process; Prometheus adds the processes up."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # `tenant` is the slug: tenants are the organisation's own products, a bounded set. `kind` is minute,
        # hour, day, burst or quota: what refused the request (the longest wait when several did).
        self.rate_limit_hits = Counter(
            "iep_rate_limit_hits",
            "Send requests refused by a tenant's rate limit or monthly quota (429)",
            ["tenant", "kind"],
            registry=registry,
        )


class ScrapeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.outbox_lag = Gauge(
            "iep_outbox_lag_seconds", "Age of the oldest outbox row not yet published", registry=self.registry
        )
        self.outbox_pending = Gauge("iep_outbox_pending", "Outbox rows not yet published", registry=self.registry)
        self.queue_depth = Gauge(
            "iep_queue_depth", "Jobs held by the queue backend, by state", ["backend", "state"], registry=self.registry
        )
        self.queue_up = Gauge("iep_queue_up", "1 when the queue backend answered this scrape", registry=self.registry)

    async def render(self, engine: AsyncEngine, clock: Clock, queue: Queue) -> bytes:
        async with engine.connect() as conn:
            lag, pending = await outbox_repository.lag(conn, clock.now())
        self.outbox_lag.set(lag)
        self.outbox_pending.set(pending)
        try:
            depth = await queue.depth()
        except Exception:  # a broker that is down is a figure too: iep_queue_up 0
            self.queue_up.set(0)
        else:
            self.queue_up.set(1)
            for state, value in (("ready", depth.ready), ("delayed", depth.delayed), ("dead", depth.dead)):
                self.queue_depth.labels(queue.name, state).set(value)
        return generate_latest(self.registry)


# Seconds: the registry answers a lookup in a few milliseconds; the top buckets catch a slow or absent one.
SMTP_CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class DirectoryMetrics:
    """Seed 004 MS-3, by its own names (SPEC §3): the registry lookup's latency and the directory's events."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.smtp_check_duration = Histogram(
            "smtp_check_duration_seconds",
            "Time the directory waited for the address registry's uniqueness answer (failures included)",
            buckets=SMTP_CHECK_BUCKETS,
            registry=registry,
        )
        self.events_published = Counter(
            "events_published", "Directory events handed to the queue backend", ["type"], registry=registry
        )


class RegistryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # outcome: applied, duplicate (seen before, no-op), parked (waits for an earlier one), dead (the DLQ),
        # retried (a transient failure, tried again later).
        self.events_processed = Counter(
            "events_processed",
            "Directory events the registry handled, by outcome",
            ["type", "outcome"],
            registry=registry,
        )
