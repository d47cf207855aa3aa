"""The API in-process with its limit counters in this process (no Redis) or in the machine's Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from iep import bootstrap
from iep.bootstrap import Container
from iep.config import load_settings
from iep.entrypoints.api import create_app
from iep.kit.clock import FakeClock
from iep.limits import service as limits_service
from iep.rendering.renderer import Renderer
from tests.conftest import TABLES, TenantKey, make_tenant
from tests.support.brokers import REDIS_URL, delete_redis_prefix, redis_prefix, redis_reachable


@dataclass(frozen=True)
class Stack:
    backend: str  # "memory" or "redis"
    container: Container
    api: httpx.AsyncClient
    clock: FakeClock


@pytest.fixture(params=["memory", "redis"])
async def stack(
    request: pytest.FixtureRequest,
    database_url: str,
    clock: FakeClock,
    renderer: Renderer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    backend: str = request.param
    overrides: dict[str, Any] = {}
    if backend == "redis":
        problem = await redis_reachable()
        if problem:
            pytest.fail(problem)
        overrides["redis_url"] = REDIS_URL
        # The test's own keys: counters and key-verification buckets of other tests (and processes) stay apart.
        namespace = redis_prefix()
        overrides["redis_key_prefix"] = f"{namespace}:"
    settings = load_settings(
        database_url=database_url,
        default_provider="smtp",
        attachments_dir=tmp_path_factory.mktemp("attachments"),
        **overrides,
    )
    # Accepting is all these tests do: the provider is never called.
    built = bootstrap.build(settings, database_url, clock=clock, providers={}, pool_size=20, renderer=renderer)
    async with built.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    transport = httpx.ASGITransport(app=create_app(built))
    async with httpx.AsyncClient(transport=transport, base_url="http://iep.test") as client:
        yield Stack(backend, built, client, clock)
    await built.close()
    if backend == "redis":
        await delete_redis_prefix(namespace)


async def limited_tenant(container: Container, slug: str, clock: FakeClock, **limits: int) -> TenantKey:
    key = await make_tenant(container, slug)
    async with container.engine.begin() as conn:
        await limits_service.update_limits(conn, slug, limits, clock.now())
    return key


def message(n: int | str = 0) -> dict[str, Any]:
    return {"to": [f"r{n}@example.com"], "from": "app@product.example", "subject": "S", "textBody": "T"}
