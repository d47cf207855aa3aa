"""The directory's fixtures: the registry's HTTP app served for real on loopback, the API pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from iep.bootstrap import Container
from iep.directory.deps import DirectoryDeps
from iep.directory.events import DIRECTORY_TOPIC
from iep.entrypoints.api import create_app
from iep.kit.db import create_engine
from iep.observability.metrics import RegistryMetrics
from iep.queue.port import Queue
from iep.registry.app import create_registry_app
from iep.registry.consumer import RegistryConsumer
from tests.support.fault_proxy import FaultProxy


@dataclass
class Registry:
    url: str
    proxy: FaultProxy
    metrics: RegistryMetrics


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn offers no event to wait on
        if server.started:
            break
        await asyncio.sleep(0.01)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


@pytest.fixture
async def registry(container: Container) -> AsyncIterator[Registry]:
    """The registry's HTTP app on loopback, behind a fault proxy; the directory asks it through the proxy."""
    # A pool of its own, as the registry role has: a directory create waits for the lookup holding a connection.
    engine = create_engine(container.database_url, pool_size=4, application_name="test-registry")
    app = create_registry_app(engine, container.clock, container.metrics_registry, container.queue(DIRECTORY_TOPIC))
    server, task, port = await serve(app)
    proxy = await FaultProxy(port).start()
    url = f"http://127.0.0.1:{proxy.port}"
    settings = container.settings.model_copy(update={"registry_url": url, "registry_timeout_seconds": 1.0})
    container._directory = DirectoryDeps.build(settings, container.engine, container.clock, container.metrics_registry)
    yield Registry(url, proxy, RegistryMetrics(container.metrics_registry))
    await proxy.stop()
    server.should_exit = True
    await task
    await engine.dispose()


@pytest.fixture
async def users_api(container: Container, registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://iep.test") as client:
        yield client


def registry_consumer(container: Container, queue: Queue, metrics: RegistryMetrics) -> RegistryConsumer:
    return RegistryConsumer(
        queue,
        container.engine,
        container.clock,
        metrics,
        worker_id="test-registry",
        concurrency=8,
        grace_seconds=2,
        max_attempts=3,
    )


async def until(check: Callable[[], Awaitable[bool]], *, seconds: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
