"""Drive the directory's relay by hand and compare what the directory and the registry each hold."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from iep.bootstrap import Container
from iep.directory.relay import DirectoryRelay
from iep.observability.metrics import DirectoryMetrics
from iep.queue.port import Queue

State = dict[uuid.UUID, tuple[str, str, frozenset[str], bool]]


async def relay_directory(container: Container, queue: Queue, metrics: DirectoryMetrics | None = None) -> int:
    relay = DirectoryRelay(
        container.engine, queue, container.clock, metrics or container.directory.metrics, batch_size=500
    )
    total = moved = await relay.relay_once()
    while moved:
        moved = await relay.relay_once()
        total += moved
    return total


async def directory_state(container: Container) -> State:
    sql = text(
        """SELECT u.id, u.name, u.primary_address, u.deleted_at IS NOT NULL AS deleted,
             coalesce(array_agg(a.address) FILTER (WHERE a.kind = 'secondary'), '{}') AS secondaries
           FROM directory_users u LEFT JOIN directory_addresses a ON a.user_id = u.id
           GROUP BY u.id"""
    )
    async with container.engine.connect() as conn:
        rows = (await conn.execute(sql)).all()
    return {r.id: (r.name, r.primary_address, frozenset(r.secondaries), r.deleted) for r in rows}


async def registry_state(container: Container) -> State:
    sql = text(
        """SELECT u.user_id, u.name, u.primary_address, u.deleted_at IS NOT NULL AS deleted,
             coalesce(array_agg(a.address) FILTER (WHERE a.kind = 'secondary'), '{}') AS secondaries
           FROM registry.users u LEFT JOIN registry.addresses a ON a.user_id = u.user_id
           GROUP BY u.user_id"""
    )
    async with container.engine.connect() as conn:
        rows = (await conn.execute(sql)).all()
    return {r.user_id: (r.name, r.primary_address, frozenset(r.secondaries), r.deleted) for r in rows}


async def registry_row(container: Container, user_id: str) -> dict[str, Any] | None:
    sql = text("SELECT name, primary_address, deleted_at, applied_sequence FROM registry.users WHERE user_id = :u")
    async with container.engine.connect() as conn:
        row = (await conn.execute(sql, {"u": uuid.UUID(user_id)})).one_or_none()
    return dict(row._mapping) if row else None


async def registry_addresses(container: Container, user_id: str) -> dict[str, tuple[str, bool]]:
    sql = text("SELECT address, kind, deleted_at IS NOT NULL AS deleted FROM registry.addresses WHERE user_id = :u")
    async with container.engine.connect() as conn:
        rows = (await conn.execute(sql, {"u": uuid.UUID(user_id)})).all()
    return {r.address: (r.kind, r.deleted) for r in rows}


async def dead_events(container: Container) -> list[dict[str, Any]]:
    sql = text("SELECT id, event_id, correlation_id, reason, requeued_at FROM registry.dead_events ORDER BY id")
    async with container.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(sql)]


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics_text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        got_name, _, got_labels = key.partition("{")
        got = ",".join(sorted(got_labels.rstrip("}").split(","))) if got_labels else ""
        if got_name == name and got == want:
            return float(value)
    return 0.0
