"""The operations port of roles without the API (METRICS_PORT, default 9464): /metrics, /health and /ready, so
every role can be scraped and probed the same way (Kubernetes probes, compose health checks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog
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

log = structlog.get_logger("iep.operations")


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


class OperationsServer:
    """The operations port as a part of a role. A port already taken does not take the role down (sending matters
    more than being scraped): it is logged as an error, and /health then fails its probe, which is visible."""

    def __init__(self, container: Container, role: Role, queues: Sequence[tuple[str, Queue]] = ()) -> None:
        settings = container.settings
        self._host = settings.host
        self._port = settings.metrics_port
        config = uvicorn.Config(
            operations_app(container, role, queues),
            host=self._host,
            port=self._port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",  # no websocket here: not loading the library keeps the role's memory down
        )
        self._server = uvicorn.Server(config)
        # The role's own signal handler stops every part: uvicorn must not install its own.
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._stopping = asyncio.Event()
        self.port: int | None = None

    async def run(self) -> None:
        try:
            # Bound here, not by uvicorn: its bind failure exits the whole process.
            sock = socket.create_server((self._host, self._port))
        except OSError as exc:
            log.error("metrics_port_unavailable", host=self._host, port=self._port, error=str(exc))
            await self._stopping.wait()
            return
        self.port = sock.getsockname()[1]
        log.info("operations_listening", port=self.port)
        await self._server.serve(sockets=[sock])

    def stop(self) -> None:
        self._stopping.set()
        self._server.should_exit = True
