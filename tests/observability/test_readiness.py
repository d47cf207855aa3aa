"""/ready names the part that does not answer (database, broker, Redis) with 503, and is 200 again once it does;
/health stays 200 throughout. Each part is reached through a loopback fault proxy: the shared services run on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from iep import bootstrap
from iep.bootstrap import Container
from iep.config import Role, load_settings
from iep.entrypoints.api import create_app
from iep.kit.clock import FakeClock
from iep.observability.readiness import Readiness
from iep.rendering.renderer import Renderer
from tests.support.fault_proxy import FaultProxy


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if netloc[1] else host))


@dataclass
class Stack:
    container: Container
    api: httpx.AsyncClient
    proxies: dict[str, FaultProxy]


@pytest.fixture
async def stack(
    database_url: str, rabbitmq_url: str, redis_url: str, renderer: Renderer, tmp_path: Path
) -> AsyncIterator[Stack]:
    proxies = {
        "database": await FaultProxy(urlsplit(database_url).port or 5432).start(),
        "broker": await FaultProxy(urlsplit(rabbitmq_url).port or 5672).start(),
        "redis": await FaultProxy(urlsplit(redis_url).port or 6379).start(),
    }
    db_url = _through(database_url, proxies["database"].port)
    settings = load_settings(
        database_url=db_url,
        queue_backend="rabbitmq",
        rabbitmq_url=_through(rabbitmq_url, proxies["broker"].port),
        redis_url=_through(redis_url, proxies["redis"].port),
        attachments_dir=tmp_path / "attachments",
    )
    container = bootstrap.build(settings, db_url, clock=FakeClock(), providers={}, pool_size=2, renderer=renderer)
    transport = httpx.ASGITransport(app=create_app(container, Role.API))
    async with httpx.AsyncClient(transport=transport, base_url="http://iep.test") as api:
        yield Stack(container, api, proxies)
    await container.close()
    for proxy in proxies.values():
        await proxy.stop()


async def test_the_api_checks_what_it_is_configured_to_use(stack: Stack) -> None:
    resp = await stack.api.get("/ready")
    assert resp.status_code == 200, resp.text
    assert resp.json()["checks"] == {"database": "ok", "broker": "ok", "redis": "ok", "attachments": "ok"}


def test_a_worker_also_needs_its_render_processes(stack: Stack) -> None:
    assert set(Readiness(stack.container, Role.WORKER).parts()) == {
        "database",
        "broker",
        "redis",
        "attachments",
        "render",
    }
    # The relay stores nothing and renders nothing.
    assert set(Readiness(stack.container, Role.RELAY).parts()) == {"database", "broker", "redis"}


@pytest.mark.parametrize("mode", ["blackhole", "reset"])
@pytest.mark.parametrize("part", ["database", "broker", "redis"])
async def test_ready_is_503_naming_the_unreachable_part_and_200_again_after(stack: Stack, part: str, mode: str) -> None:
    assert (await stack.api.get("/ready")).status_code == 200
    # blackhole: open connections (pooled ones too) swallow every byte; reset: every connection is torn down.
    stack.proxies[part].set("blackhole" if mode == "blackhole" else "reset")
    down = await stack.api.get("/ready")
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    body = down.json()
    assert body["checks"][part].startswith("error")
    assert part in body["detail"]
    assert all(v == "ok" for k, v in body["checks"].items() if k != part)
    assert (await stack.api.get("/health")).status_code == 200

    stack.proxies[part].set("pass")
    for _ in range(3):  # a pool drops its dead connection on the first use after the fault
        up = await stack.api.get("/ready")
        if up.status_code == 200:
            break
    assert up.status_code == 200, up.text
