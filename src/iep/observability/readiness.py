"""GET /ready (A8): every part the role is configured to use, each checked within a bound.

`database` always; `broker` for QUEUE_BACKEND rabbitmq or redis (with postgres the broker is the database);
`redis` when REDIS_URL is set; `attachments` for roles that store or send them (api, worker); `render` for roles
that send (worker). A part that does not answer within CHECK_TIMEOUT_SECONDS counts as down: a blackholed broker
answers 503 in seconds, never hangs the probe. /health stays the liveness check: it reads nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy import text
from starlette.responses import JSONResponse

from iep.config import QueueBackend, Role
from iep.kit.problems import PROBLEM_BASE, PROBLEM_JSON

if TYPE_CHECKING:
    from iep.bootstrap import Container

CHECK_TIMEOUT_SECONDS = 3.0

SENDS = frozenset({Role.WORKER, Role.ALL, Role.DEV})
STORES = frozenset({Role.API, Role.WORKER, Role.ALL, Role.DEV})


class Readiness:
    def __init__(self, container: Container, role: Role) -> None:
        self._container = container
        self._role = role

    def parts(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """What this role depends on, by the name /ready reports."""
        c = self._container
        s = c.settings
        parts: dict[str, Callable[[], Awaitable[None]]] = {"database": self._database}
        if s.queue_backend is QueueBackend.RABBITMQ:
            parts["broker"] = self._rabbitmq
        elif s.queue_backend is QueueBackend.REDIS:
            parts["broker"] = self._redis
        if c.redis is not None:
            parts["redis"] = self._redis
        if self._role in STORES and c.attachment_store is not None:
            parts["attachments"] = c.attachment_store.ready
        if self._role in SENDS:
            parts["render"] = self._render
        return parts

    async def check(self) -> dict[str, str]:
        parts = self.parts()
        results = await asyncio.gather(*(_bounded(check) for check in parts.values()))
        return dict(zip(parts, results, strict=True))

    async def response(self) -> JSONResponse:
        checks = await self.check()
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        down = sorted(k for k, v in checks.items() if v != "ok")
        body = {
            "type": PROBLEM_BASE + "not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": f"not reachable: {', '.join(down)}",
            "checks": checks,
        }
        return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)

    async def _database(self) -> None:
        async with self._container.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _rabbitmq(self) -> None:
        # A connection of its own: the consumers' connection recovers by itself and must not be disturbed.
        url = self._container.settings.rabbitmq_url
        import aio_pika  # only a role on RabbitMQ loads it

        connection = await aio_pika.connect(url, timeout=CHECK_TIMEOUT_SECONDS)
        await connection.close()

    async def _redis(self) -> None:
        client: Redis | None = self._container.redis  # set whenever REDIS_URL is (QUEUE_BACKEND=redis needs it)
        if client is None:
            raise RuntimeError("REDIS_URL is not set")
        await client.ping()

    async def _render(self) -> None:
        renderer = self._container.renderer
        if not renderer.python.serving:
            raise RuntimeError("no render process is running")
        if renderer.catalog.has_format("tsx") and not renderer.bun.serving:
            raise RuntimeError("no Bun render process is running")


async def _bounded(check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return "error: no answer in time"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
