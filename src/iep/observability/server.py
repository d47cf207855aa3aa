"""The operations port of roles without the API (METRICS_PORT, default 9464): /metrics, /health and /ready, so
every role can be scraped and probed the same way (Kubernetes probes, compose health checks)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iep.config import Role
from iep.observability.metrics import ScrapeMetrics, exposition
from iep.observability.readiness import Readiness
from iep.queue.port import Queue

if TYPE_CHECKING:
    from iep.bootstrap import Container


def operations_app(container: Container, role: Role, queues: Sequence[tuple[str, Queue]] = ()) -> Starlette:
    """`queues` given: this role also reports queue depth and outbox lag (the relay; read at scrape time)."""
    readiness = Readiness(container, role)
    scrape = ScrapeMetrics(container.metrics_registry) if queues else None

    async def metrics(_: Request) -> Response:
        if scrape is not None:
            body = await scrape.render(container.engine, container.clock, queues)
        else:
            body = exposition(container.metrics_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> JSONResponse:
        return await readiness.response()

    return Starlette(
        routes=[Route("/metrics", metrics), Route("/health", health), Route("/ready", ready)],
    )


def operations_server(container: Container, role: Role, queues: Sequence[tuple[str, Queue]] = ()) -> uvicorn.Server:
    settings = container.settings
    config = uvicorn.Config(
        operations_app(container, role, queues),
        host=settings.host,
        port=settings.metrics_port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    # The role's own signal handler stops every part: uvicorn must not install its own.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    return server
