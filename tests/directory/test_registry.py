"""Seed 004 MS-1 and MS-2 on the registry's side, on the postgres backend: events from the directory's relay,
applied once, in per-user order, retried with backoff, poison to the dead-letter queue."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from sqlalchemy import select, text
from structlog.testing import capture_logs

from iep.bootstrap import Container
from iep.directory.events import DIRECTORY_TOPIC
from iep.directory.models import directory_events
from iep.kit.clock import FakeClock
from iep.kit.db import create_engine
from iep.queue.port import Job, Queue
from iep.registry.consumer import RegistryConsumer, backoff
from tests.conftest import TenantKey
from tests.directory.backends import Backend, backend
from tests.directory.conftest import Registry, registry_consumer, until
from tests.directory.flow import (
    dead_events,
    directory_state,
    registry_addresses,
    registry_row,
    registry_state,
    relay_directory,
    sample,
)
from tests.support.fault_proxy import FaultProxy

__all__ = ["backend"]  # the fixture, parametrized over postgres, rabbitmq and redis


@pytest.fixture
async def events_queue(backend: Backend) -> Queue:
    """The directory topic on the backend under test (postgres, rabbitmq, redis)."""
    return backend.queue()


@pytest.fixture
async def consumer(backend: Backend, container: Container, registry: Registry) -> AsyncIterator[RegistryConsumer]:
    worker = registry_consumer(container, backend.queue(), registry.metrics)
    task = asyncio.create_task(worker.run())
    yield worker
    worker.stop()
    await task


@pytest.fixture
async def pg_consumer(container: Container, registry: Registry) -> AsyncIterator[RegistryConsumer]:
    """On the postgres backend alone: the registry role's requeue publishes through the container's backend."""
    worker = registry_consumer(container, container.queue(DIRECTORY_TOPIC), registry.metrics)
    task = asyncio.create_task(worker.run())
    yield worker
    worker.stop()
    await task


async def _create(api: httpx.AsyncClient, tenant: TenantKey, primary: str, **extra: Any) -> dict[str, Any]:
    r = await api.post("/v1/users", json={"name": "User", "primary": primary, **extra}, headers=tenant.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _documents(container: Container) -> list[dict[str, Any]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(select(directory_events.c.payload).order_by(directory_events.c.created_at))
        return [r.payload for r in rows]


def _job(doc: dict[str, Any]) -> Job:
    return Job(message_id=uuid.UUID(doc["eventId"]), tenant_id=uuid.UUID(doc["tenantId"]), payload=doc)


def _processed(container: Container, outcome: str, event_type: str = "UserCreated") -> float:
    return sample(
        generate_latest(container.metrics_registry).decode(), "events_processed_total", type=event_type, outcome=outcome
    )


async def test_create_registry_checked_event_published_registry_stores(
    users_api: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    events_queue: Queue,
    consumer: RegistryConsumer,
) -> None:
    user = await _create(users_api, tenant, "store@corp.example", secondaries=["s@corp.example"])
    # The registry was asked before the insert: its lookup latency was measured.
    metrics = generate_latest(container.metrics_registry).decode()
    assert sample(metrics, "smtp_check_duration_seconds_count") >= 1
    assert await relay_directory(container, events_queue) == 1

    async def stored() -> bool:
        return await registry_row(container, user["id"]) is not None

    await until(stored, what="the registry to store the user")
    assert await registry_addresses(container, user["id"]) == {
        "store@corp.example": ("primary", False),
        "s@corp.example": ("secondary", False),
    }
    metrics = generate_latest(container.metrics_registry).decode()
    assert sample(metrics, "events_published_total", type="UserCreated") == 1
    assert sample(metrics, "events_processed_total", type="UserCreated", outcome="applied") == 1


async def test_update_moves_the_old_primary_and_the_registry_follows(
    users_api: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    events_queue: Queue,
    consumer: RegistryConsumer,
) -> None:
    user = await _create(users_api, tenant, "old@corp.example")
    r = await users_api.put(f"/v1/users/{user['id']}", json={"primary": "new@corp.example"}, headers=tenant.headers)
    assert r.json()["secondaries"] == ["old@corp.example"]
    await relay_directory(container, events_queue)

    async def updated() -> bool:
        row = await registry_row(container, user["id"])
        return row is not None and row["applied_sequence"] == 2

    await until(updated, what="the update applied")
    assert await registry_addresses(container, user["id"]) == {
        "new@corp.example": ("primary", False),
        "old@corp.example": ("secondary", False),
    }


async def test_delete_registry_marks_deleted(
    users_api: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    events_queue: Queue,
    registry: Registry,
    consumer: RegistryConsumer,
) -> None:
    user = await _create(users_api, tenant, "gone@corp.example")
    assert (await users_api.delete(f"/v1/users/{user['id']}", headers=tenant.headers)).status_code == 204
    await relay_directory(container, events_queue)

    async def deleted() -> bool:
        row = await registry_row(container, user["id"])
        return row is not None and row["deleted_at"] is not None

    await until(deleted, what="the registry to mark the user deleted")
    assert await registry_addresses(container, user["id"]) == {"gone@corp.example": ("primary", True)}
    # Still taken: a deleted user's address is never handed to another.
    async with httpx.AsyncClient(base_url=registry.url) as http:
        lookup = await http.post("/v1/lookup", json={"addresses": ["gone@corp.example", "free@corp.example"]})
    assert lookup.json() == {"taken": ["gone@corp.example"]}


async def test_same_event_delivered_twice_is_applied_once(
    users_api: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    events_queue: Queue,
    consumer: RegistryConsumer,
) -> None:
    user = await _create(users_api, tenant, "twice@corp.example")
    [doc] = await _documents(container)
    await events_queue.publish([_job(doc), _job(doc)])

    async def both_seen() -> bool:
        return _processed(container, "applied") + _processed(container, "duplicate") == 2

    await until(both_seen, what="both deliveries handled")
    assert (_processed(container, "applied"), _processed(container, "duplicate")) == (1, 1)
    row = await registry_row(container, user["id"])
    assert row is not None
    assert row["applied_sequence"] == 1


async def test_user_updated_before_user_created_is_handled(
    users_api: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    events_queue: Queue,
    consumer: RegistryConsumer,
) -> None:
    user = await _create(users_api, tenant, "order@corp.example")
    await users_api.put(f"/v1/users/{user['id']}", json={"name": "Renamed"}, headers=tenant.headers)
    created, updated = await _documents(container)
    await events_queue.publish([_job(updated)])

    async def parked() -> bool:
        return _processed(container, "parked", "UserUpdated") == 1

    await until(parked, what="the early update parked")
    assert await registry_row(container, user["id"]) is None  # waits: not applied before its create
    await events_queue.publish([_job(created)])

    async def both_applied() -> bool:
        row = await registry_row(container, user["id"])
        return row is not None and row["applied_sequence"] == 2

    await until(both_applied, what="create, then the parked update")
    assert await registry_state(container) == await directory_state(container)


async def test_poison_event_lands_in_the_dlq_with_its_correlation_id_logged(
    container: Container, events_queue: Queue, consumer: RegistryConsumer
) -> None:
    poison = {"eventId": str(uuid.uuid4()), "type": "UserCreated", "schemaVersion": 99, "correlationId": "poison-7"}
    with capture_logs() as logs:
        await events_queue.publish(
            [Job(message_id=uuid.UUID(poison["eventId"]), tenant_id=uuid.uuid4(), payload=poison)]
        )

        async def buried() -> bool:
            return len(await dead_events(container)) == 1

        await until(buried, what="the poison event in the DLQ")
        await asyncio.sleep(0.1)
    [dead] = await dead_events(container)
    assert dead["correlation_id"] == "poison-7"
    assert "schemaVersion 99" in dead["reason"]
    [line] = [entry for entry in logs if entry["event"] == "directory_event_dead_lettered"]
    assert line["log_level"] == "error"
    assert line["correlation_id"] == "poison-7"
    assert "schemaVersion 99" in line["reason"]


async def test_a_dead_event_can_be_inspected_and_requeued(
    users_api: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    registry: Registry,
    pg_consumer: RegistryConsumer,
) -> None:
    user = await _create(users_api, tenant, "requeue@corp.example")
    [doc] = await _documents(container)
    async with container.engine.begin() as conn:  # as if it had died after too many transient failures
        await conn.execute(
            text(
                "INSERT INTO registry.dead_events (event_id, correlation_id, document, reason, attempts) "
                "VALUES (:e, :c, CAST(:d AS jsonb), 'gave up after 8 attempts', 8)"
            ),
            {"e": doc["eventId"], "c": doc["correlationId"], "d": json.dumps(doc)},
        )
    async with httpx.AsyncClient(base_url=registry.url) as http:
        listed = (await http.get("/v1/dead-events")).json()["data"]
        assert [(d["eventId"], d["reason"]) for d in listed] == [(doc["eventId"], "gave up after 8 attempts")]
        assert (await http.post(f"/v1/dead-events/{listed[0]['id']}/requeue")).status_code == 202
        assert (await http.post(f"/v1/dead-events/{listed[0]['id']}/requeue")).status_code == 404
        assert (await http.get("/v1/dead-events")).json()["data"] == []

    async def applied() -> bool:
        return await registry_row(container, user["id"]) is not None

    await until(applied, what="the requeued event applied")


async def test_event_with_a_new_optional_field_is_processed_by_the_unchanged_consumer(
    users_api: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    events_queue: Queue,
    consumer: RegistryConsumer,
) -> None:
    user = await _create(users_api, tenant, "newer@corp.example")
    [doc] = await _documents(container)
    newer = copy.deepcopy(doc)
    newer["region"] = "eu-west"  # a producer a version ahead: new optional fields, same schemaVersion
    newer["data"]["displayName"] = "Newer"
    await events_queue.publish([_job(newer)])

    async def applied() -> bool:
        return await registry_row(container, user["id"]) is not None

    await until(applied, what="the newer event applied")
    assert await dead_events(container) == []


async def test_transient_failures_are_retried_with_exponential_backoff(
    users_api: httpx.AsyncClient, tenant: TenantKey, container: Container, registry: Registry, database_url: str
) -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(30) == 60.0
    user = await _create(users_api, tenant, "flaky@corp.example")
    await relay_directory(container, container.queue(DIRECTORY_TOPIC))
    # The registry's database connection breaks: every attempt fails until it comes back.
    proxy = await FaultProxy(5432).start()
    proxy.set("reset")
    flaky = create_engine(database_url.replace(":5432/", f":{proxy.port}/"), pool_size=2, application_name="flaky")
    queue = container.queue(DIRECTORY_TOPIC)
    worker = RegistryConsumer(
        queue,
        flaky,
        container.clock,
        registry.metrics,
        worker_id="flaky",
        concurrency=1,
        grace_seconds=1,
        max_attempts=50,
    )
    task = asyncio.create_task(worker.run())
    assert isinstance(container.clock, FakeClock)
    try:

        async def retried_twice() -> bool:
            container.clock.advance(backoff(2))  # each backoff passes (the queue's time is the test clock)
            queue.wake()
            return _processed(container, "retried") >= 2

        await until(retried_twice, what="two retries while the database is away")
        proxy.set("pass")

        async def applied() -> bool:
            container.clock.advance(backoff(3))
            queue.wake()
            return await registry_row(container, user["id"]) is not None

        await until(applied, what="applied once the database is back")
        assert _processed(container, "applied") == 1
    finally:
        worker.stop()
        await task
        await flaky.dispose()
        await proxy.stop()
