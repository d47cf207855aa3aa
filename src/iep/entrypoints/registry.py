"""The `registry` role's parts (seed 004): the event consumer and the HTTP lookup on REGISTRY_LISTEN."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import uvicorn

from iep.bootstrap import Container
from iep.config import Settings
from iep.directory.events import DIRECTORY_TOPIC
from iep.kit.db import create_engine
from iep.observability.metrics import RegistryMetrics
from iep.registry.app import create_registry_app
from iep.registry.consumer import RegistryConsumer

Part = tuple[str, Callable[[], Coroutine[Any, Any, None]], Callable[[], Awaitable[None] | None]]


def registry_parts(container: Container, settings: Settings) -> list[Part]:
    # A pool of its own, as a separate service has: in role `all` a directory create holds an API connection
    # while it waits for the lookup, which must never wait for that same pool.
    engine = create_engine(container.database_url, pool_size=10, application_name="iep-registry")
    consumer = RegistryConsumer(
        container.queue(DIRECTORY_TOPIC),
        engine,
        container.clock,
        RegistryMetrics(container.metrics_registry),
        worker_id=container.worker_id,
        concurrency=settings.registry_concurrency,
        grace_seconds=settings.worker_shutdown_grace_seconds,
        max_attempts=settings.registry_max_attempts,
    )
    host, _, port = settings.registry_listen.rpartition(":")
    app = create_registry_app(engine, container.clock, container.metrics_registry, container.queue(DIRECTORY_TOPIC))
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host.strip("[]"), port=int(port), log_level="warning", access_log=False, lifespan="off"
        )
    )
    # The role's one signal handler is the runtime's.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            await engine.dispose()

    def _stop_server() -> None:
        server.should_exit = True

    return [("registry", consumer.run, consumer.stop), ("registry-http", serve, _stop_server)]
