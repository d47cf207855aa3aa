"""Seed 004 against real role processes (`iep run --role registry|relay|api`) on each queue backend, and the
registry's final state after 2,000 events shuffled with 20 % delivered twice."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text

from iep.bootstrap import Container
from iep.directory import service
from iep.directory.deps import DirectoryDeps
from iep.directory.models import directory_events
from iep.directory.schemas import UserIn, UserUpdate
from iep.entrypoints.api import create_app
from iep.observability.metrics import RegistryMetrics
from iep.queue.port import Job
from tests.conftest import TenantKey
from tests.directory.backends import Backend, backend, free_port, start_role, stop_role
from tests.directory.conftest import Registry, registry_consumer, until
from tests.directory.flow import dead_events, directory_state, registry_row, registry_state, sample

__all__ = ["backend"]  # the fixture, parametrized over postgres, rabbitmq and redis


async def _healthy(url: str, what: str, log: Path) -> None:
    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{url}/health", timeout=1)).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await until(up, seconds=60, what=f"{what} at {url}")
    except AssertionError:
        tail = await asyncio.to_thread(lambda: log.read_text()[-2000:] if log.exists() else "")
        raise AssertionError(f"{what} did not come up; its log:\n{tail}") from None


def _logged(log: Path, event: str) -> list[dict[str, Any]]:
    lines = []
    for raw in log.read_text().splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == event:
            lines.append(entry)
    return lines


@dataclass
class RegistryRole:
    """`iep run --role registry` on one backend, restartable on its port."""

    backend: Backend
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = start_role("registry", self.backend.env(REGISTRY_LISTEN=f"127.0.0.1:{self.port}"), self.log)
        await _healthy(self.url, "the registry role", self.log)

    async def stop(self) -> None:
        if self.process is not None:
            await asyncio.to_thread(stop_role, self.process)
            self.process = None


@pytest.fixture
async def registry_role(backend: Backend, tmp_path: Path) -> AsyncIterator[RegistryRole]:
    role = RegistryRole(backend, free_port(), tmp_path / "registry.log")
    try:
        await role.start()
        yield role
    finally:
        await role.stop()


@pytest.fixture
async def relay_role(backend: Backend, tmp_path: Path) -> AsyncIterator[Path]:
    log = tmp_path / "relay.log"
    process = start_role("relay", backend.env(), log)
    try:
        yield log
    finally:
        await asyncio.to_thread(stop_role, process)


@pytest.fixture
async def api_to_role(container: Container, registry_role: RegistryRole) -> AsyncIterator[httpx.AsyncClient]:
    """The API in this process, asking the registry role over HTTP."""
    settings = container.settings.model_copy(update={"registry_url": registry_role.url})
    container._directory = DirectoryDeps.build(settings, container.engine, container.clock, container.metrics_registry)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://iep.test") as client:
        yield client


async def test_ms1_create_update_delete_reach_the_registry_role(
    api_to_role: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    registry_role: RegistryRole,
    relay_role: Path,
) -> None:
    cid = f"e2e-{uuid.uuid4().hex[:10]}"
    headers = {**tenant.headers, "X-Correlation-Id": cid}
    r = await api_to_role.post("/v1/users", json={"name": "E", "primary": "e2e@corp.example"}, headers=headers)
    assert r.status_code == 201, r.text
    uid = r.json()["id"]

    async def at(sequence: int) -> bool:
        row = await registry_row(container, uid)
        return row is not None and row["applied_sequence"] == sequence

    await until(lambda: at(1), what="UserCreated in the registry role")
    await api_to_role.put(f"/v1/users/{uid}", json={"primary": "e2e.new@corp.example"}, headers=tenant.headers)
    await until(lambda: at(2), what="UserUpdated in the registry role")
    # A second create of the address the registry role now holds (under the user's old primary) is suffixed.
    again = await api_to_role.post("/v1/users", json={"name": "F", "primary": "e2e@corp.example"}, headers=headers)
    assert again.json()["primary"] == "e2e1@corp.example"
    await api_to_role.delete(f"/v1/users/{uid}", headers=tenant.headers)
    await until(lambda: at(3), what="UserDeleted in the registry role")
    row = await registry_row(container, uid)
    assert row is not None
    assert row["deleted_at"] is not None
    applied = [e for e in _logged(registry_role.log, "directory_event_applied") if e.get("correlation_id") == cid]
    assert {e["event_type"] for e in applied} >= {"UserCreated"}
    async with httpx.AsyncClient(base_url=registry_role.url) as http:
        metrics = (await http.get("/metrics")).text
    assert sample(metrics, "events_processed_total", type="UserCreated", outcome="applied") >= 2
    assert any(e.get("correlation_id") == cid for e in _logged(relay_role, "directory_event_published"))


async def test_api_sigkilled_after_commit_before_publish_event_still_arrives(
    backend: Backend, tenant: TenantKey, container: Container, registry_role: RegistryRole, tmp_path: Path
) -> None:
    cid = f"killed-{uuid.uuid4().hex[:10]}"
    port = free_port()
    log = tmp_path / "api.log"
    api = start_role("api", backend.env(PORT=str(port), REGISTRY_URL=registry_role.url), log)
    try:
        await _healthy(f"http://127.0.0.1:{port}", "the api role", log)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            r = await http.post(
                "/v1/users",
                json={"name": "K", "primary": "killed@corp.example"},
                headers={**tenant.headers, "X-Correlation-Id": cid},
            )
        assert r.status_code == 201, r.text
        api.send_signal(signal.SIGKILL)  # committed; no relay runs, so nothing is published yet
        await asyncio.to_thread(api.wait, 10)
    finally:
        await asyncio.to_thread(stop_role, api)
    async with container.engine.connect() as conn:
        owed = (
            await conn.execute(
                select(func.count()).select_from(directory_events).where(directory_events.c.published_at.is_(None))
            )
        ).scalar_one()
    assert owed == 1
    relay = start_role("relay", backend.env(), tmp_path / "relay.log")
    try:

        async def arrived() -> bool:
            return await registry_row(container, r.json()["id"]) is not None

        await until(arrived, seconds=60, what="the outbox event in the registry role")
    finally:
        await asyncio.to_thread(stop_role, relay)
    # The correlation id in all three places, each a real process: the API's log, the event, the registry's log.
    assert [e["correlation_id"] for e in _logged(log, "user_created")] == [cid]
    async with container.engine.connect() as conn:
        payload = (await conn.execute(select(directory_events.c.payload))).scalar_one()
    assert payload["correlationId"] == cid

    async def registry_logged() -> bool:
        lines = _logged(registry_role.log, "directory_event_applied")
        return any(e.get("correlation_id") == cid for e in lines)

    await until(registry_logged, seconds=10, what="the registry's log line")


async def test_registry_down_during_creates_the_documented_model_holds(
    api_to_role: httpx.AsyncClient,
    tenant: TenantKey,
    container: Container,
    registry_role: RegistryRole,
    relay_role: Path,
) -> None:
    await registry_role.stop()
    r = await api_to_role.post("/v1/users", json={"name": "D", "primary": "down@corp.example"}, headers=tenant.headers)
    assert r.status_code == 503
    assert r.json()["type"] == "https://iep.dev/problems/registry-unavailable"
    assert await directory_state(container) == {}  # refused: nothing written, nothing owed to the registry
    await registry_role.start()
    r = await api_to_role.post("/v1/users", json={"name": "D", "primary": "down@corp.example"}, headers=tenant.headers)
    assert r.status_code == 201

    async def arrived() -> bool:
        return await registry_row(container, r.json()["id"]) is not None

    await until(arrived, seconds=60, what="the create in the restarted registry role")


async def _make_2000_events(container: Container, tenant_id: uuid.UUID, registry: Registry) -> None:
    """400 users, each created, renamed, given a new primary, renamed again and deleted: 2,000 events."""
    checker = container.directory.checker
    now = container.clock.now()
    for i in range(400):
        async with container.engine.begin() as conn:
            view = await service.create_user(
                conn,
                tenant_id=tenant_id,
                body=UserIn(name=f"U{i}", primary=f"u{i}@bulk.example"),
                checker=checker,
                correlation_id=f"bulk-{i}",
                now=now,
            )
        uid = view.user["id"]
        for body in (UserUpdate(name=f"V{i}"), UserUpdate(primary=f"v{i}@bulk.example"), UserUpdate(name=f"W{i}")):
            async with container.engine.begin() as conn:
                await service.update_user(
                    conn, tenant_id=tenant_id, user_id=uid, body=body, checker=checker, correlation_id="b", now=now
                )
        async with container.engine.begin() as conn:
            await service.delete_user(conn, tenant_id=tenant_id, user_id=uid, correlation_id="b", now=now)
    del registry


async def test_2000_events_shuffled_and_20_percent_duplicated_end_in_the_directorys_state(
    backend: Backend, container: Container, tenant: TenantKey, registry: Registry
) -> None:
    tenant_id = await _tenant_id(container, tenant)
    await _make_2000_events(container, tenant_id, registry)
    async with container.engine.connect() as conn:
        docs = [r.payload for r in await conn.execute(select(directory_events.c.payload))]
    assert len(docs) == 2000
    rng = random.Random(2000)
    deliveries = docs + rng.sample(docs, 400)
    rng.shuffle(deliveries)
    publisher = backend.queue()
    jobs = [Job(uuid.UUID(d["eventId"]), uuid.UUID(d["tenantId"]), payload=d) for d in deliveries]
    for start in range(0, len(jobs), 200):
        await publisher.publish(jobs[start : start + 200])
    metrics = RegistryMetrics(CollectorRegistry())
    consumer = registry_consumer(container, backend.queue(), metrics)
    task = asyncio.create_task(consumer.run())
    expected = await directory_state(container)
    try:

        async def converged() -> bool:
            return await registry_state(container) == expected

        await until(converged, seconds=240, what=f"the registry to converge on {backend.kind}")
    finally:
        consumer.stop()
        await task
    assert await dead_events(container) == []
    processed = metrics.events_processed
    outcomes = {
        outcome: sum(processed.labels(t, outcome)._value.get() for t in ("UserCreated", "UserUpdated", "UserDeleted"))
        for outcome in ("applied", "parked", "duplicate")
    }
    assert outcomes["duplicate"] == 400
    assert outcomes["applied"] + outcomes["parked"] == 2000


async def _tenant_id(container: Container, tenant: TenantKey) -> uuid.UUID:
    async with container.engine.connect() as conn:
        found = (await conn.execute(text("SELECT id FROM tenants WHERE slug = :s"), {"s": tenant.slug})).scalar_one()
    assert isinstance(found, uuid.UUID)
    return found
