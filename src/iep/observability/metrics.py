"""Prometheus metrics (O3, seed 003 §16).

Two kinds:
- counted as things happen, in the process where they happen (messages, provider errors, render time, webhook
  deliveries): prometheus_client's process registry, which also carries the process_* and python_* figures.
  Every process serves its own /metrics (the API on PORT, other roles on METRICS_PORT) and Prometheus adds the
  processes up: `sum(rate(iep_messages_total[5m]))` is right for any number of workers (docs/operations.md).
- read at scrape time from the database and the broker (queue depth, outbox lag) by the API and the relay: the
  same figure from every instance, so alerts take `max`, never `sum`.

Label values are bounded: tenant is the slug (tenants are the organisation's own products), provider a configured
name, status a message status, error_type one of ERROR_TYPES. Never a recipient, a subject or a message id.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.delivery.breaker import CircuitBreaker, State
from iep.kit.clock import Clock
from iep.outbox import repository as outbox_repository
from iep.providers.base import ProviderError
from iep.queue.port import Queue
from iep.tenancy import repository as tenancy_repository

# Accept → provider accepted: from a second to the retry schedule's hours.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
RENDER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

MESSAGES = Counter(
    "iep_messages",
    "Send attempts by outcome: sent, retry_scheduled, failed, dlq (failed for good, dead-lettered), suppressed",
    ["status", "tenant", "provider"],
    registry=REGISTRY,
)
MESSAGE_DURATION = Histogram(
    "iep_message_duration_seconds",
    "From the API's accept to the provider's acceptance, for sent messages",
    ["provider"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
PROVIDER_ERRORS = Counter(
    "iep_provider_errors",
    "Sends a provider did not accept, by provider and error type",
    ["provider", "error_type"],
    registry=REGISTRY,
)
RENDER_DURATION = Histogram(
    "iep_render_duration_seconds",
    "Time to render one message, by engine (handlebars, jinja, mjml, tsx)",
    ["engine"],
    buckets=RENDER_BUCKETS,
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "iep_webhook_deliveries",
    "Tenant webhook delivery attempts by the event's status after the attempt",
    ["status"],
    registry=REGISTRY,
)

ERROR_TYPES = ("rate_limited", "auth", "timeout", "connection", "transient", "permanent")
NO_PROVIDER = "none"

# tenant id → slug; tenants are few and a slug never changes, so each process asks once per tenant.
_slugs: dict[uuid.UUID, str] = {}


async def tenant_label(engine: AsyncEngine, tenant_id: uuid.UUID) -> str:
    slug = _slugs.get(tenant_id)
    if slug is None:
        try:
            async with engine.connect() as conn:
                slug = await tenancy_repository.tenant_slug(conn, tenant_id) or "unknown"
        except Exception:  # a count must never turn a recorded outcome into a crash; asked again next time
            return "unknown"
        _slugs[tenant_id] = slug
    return slug


async def message_outcome(
    engine: AsyncEngine, row: dict[str, Any], status: str, provider: str | None, now: datetime | None = None
) -> None:
    """Count one send step's outcome; `now` (sent messages) also observes accept → provider accepted."""
    tenant = await tenant_label(engine, row["tenant_id"])
    _counted(status, tenant, provider or NO_PROVIDER).inc()
    if now is not None and row.get("created_at") is not None:
        _timed(provider or NO_PROVIDER).observe(max(0.0, (now - row["created_at"]).total_seconds()))


# `labels()` takes the metric's lock and builds its key on every call; one child per label set is kept instead
# (as many as the metric has series, which tenants and providers bound).
@functools.cache
def _counted(status: str, tenant: str, provider: str) -> Any:
    return MESSAGES.labels(status, tenant, provider)


@functools.cache
def _timed(provider: str) -> Any:
    return MESSAGE_DURATION.labels(provider)


def error_type(exc: ProviderError) -> str:
    """A bounded name for what went wrong: from the answer's code, else from the cause, else its permanence."""
    if exc.code == 429:
        return "rate_limited"
    if exc.code in (401, 403, 530, 535):
        return "auth"
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, TimeoutError) or "timeout" in type(cause).__name__.lower():
        return "timeout"
    if isinstance(cause, ConnectionError | OSError) or "connect" in type(cause).__name__.lower():
        return "connection"
    return "transient" if exc.transient else "permanent"


def provider_error(provider: str | None, exc: ProviderError) -> None:
    PROVIDER_ERRORS.labels(provider or NO_PROVIDER, error_type(exc)).inc()


@contextmanager
def render_timer(engine: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        RENDER_DURATION.labels(engine).observe(time.perf_counter() - start)


def webhook_delivery(status: str | None) -> None:
    if status is not None:
        WEBHOOK_DELIVERIES.labels(status).inc()


class BreakerCollector(Collector):
    """Each provider circuit's last state seen by this process: iep_breaker_state{provider,state} is 1 for the
    current state; iep_breaker_open{provider} is 1 while it is open (what the alert reads)."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = GaugeMetricFamily(
            "iep_breaker_state", "Provider circuit state (1 = current)", labels=["provider", "state"]
        )
        opened = GaugeMetricFamily("iep_breaker_open", "1 while the provider's circuit is open", labels=["provider"])
        for provider, current in sorted(self._breaker.states.items()):
            for s in State:
                state.add_metric([provider, s.value], 1.0 if s is current else 0.0)
            opened.add_metric([provider], 1.0 if current is State.OPEN else 0.0)
        yield state
        yield opened


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
    """Figures read at scrape time. `iep_queue_depth` keeps its {backend, state} labels and adds seed 003's
    {queue} (mail.send, mail.webhook): queries written for either keep working."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.outbox_lag = Gauge(
            "iep_outbox_lag_seconds", "Age of the oldest outbox row not yet published", registry=self.registry
        )
        self.outbox_pending = Gauge("iep_outbox_pending", "Outbox rows not yet published", registry=self.registry)
        self.queue_depth = Gauge(
            "iep_queue_depth",
            "Jobs held by the queue backend, by queue and state",
            ["queue", "backend", "state"],
            registry=self.registry,
        )
        self.queue_up = Gauge("iep_queue_up", "1 when the queue backend answered this scrape", registry=self.registry)

    async def render(self, engine: AsyncEngine, clock: Clock, queues: Sequence[tuple[str, Queue]]) -> bytes:
        async with engine.connect() as conn:
            lag, pending = await outbox_repository.lag(conn, clock.now())
        self.outbox_lag.set(lag)
        self.outbox_pending.set(pending)
        up = 1
        for name, queue in queues:
            try:
                depth = await queue.depth()
            except Exception:  # a broker that is down is a figure too: iep_queue_up 0
                up = 0
                continue
            for state, value in (("ready", depth.ready), ("delayed", depth.delayed), ("dead", depth.dead)):
                self.queue_depth.labels(name, queue.name, state).set(value)
        self.queue_up.set(up)
        return exposition(self.registry)


def exposition(*registries: CollectorRegistry) -> bytes:
    """The process's own figures and the given registries' in one text exposition (no family appears twice)."""
    return b"".join(generate_latest(r) for r in (*registries, REGISTRY))


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
