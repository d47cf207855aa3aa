"""Start a role (D2): resolve the database, check the interpreter, build the container, run the parts."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

from iep import bootstrap
from iep.config import ConfigError, Role, Settings
from iep.kit.selftest import ensure_safe_interpreter
from iep.observability import tracing
from iep.queue.port import SEND_QUEUE, WEBHOOK_QUEUE

log = structlog.get_logger("iep.run")
API_SHUTDOWN_GRACE_SECONDS = 10


_BACKGROUND: set[asyncio.Task[None]] = set()  # held here so that no task is collected while it runs


async def _warm_renderer(container: bootstrap.Container) -> None:
    try:
        await container.renderer.start()
    except Exception as exc:  # a render that needs the pool retries it, and says why
        log.error("render_pool_warm_up_failed", error=str(exc)[:500] or type(exc).__name__)


async def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from iep.kit.embedded_pg import ensure_embedded

    return await ensure_embedded(settings.state_dir)


async def run_role(settings: Settings, role: Role) -> None:
    ensure_safe_interpreter()
    if role is Role.SMTP and not settings.bounce_domain:
        raise ConfigError("IEP cannot start, bad configuration:\n  BOUNCE_DOMAIN is required for role smtp")
    url = await database_url(settings)
    if role in (Role.DEV, Role.ALL) or not settings.database_url:
        from iep.kit import migrate  # Alembic, loaded only by a role that migrates

        await migrate.upgrade(url)
    if role is Role.DEV:
        from iep.entrypoints.dev import dev_encryption_key, dev_templates_dir

        settings = settings.model_copy(
            update={
                "default_provider": "devinbox",
                "service_role": Role.DEV,  # the templates folder is re-read on every change (T7)
                "templates_source_dir": dev_templates_dir(settings),
                # Webhook secrets and DKIM keys are stored encrypted, in dev too: a key of the state folder's own.
                "iep_encryption_key": settings.iep_encryption_key or dev_encryption_key(settings),
                # A receiver on this machine is the usual dev setup; other private ranges stay refused.
                "webhook_allowed_cidrs": settings.webhook_allowed_cidrs or "127.0.0.0/8,::1/128",
            }
        )
    container = bootstrap.build(settings, url, role=f"iep-{role.value}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    parts: list[tuple[str, Callable[[], Coroutine[Any, Any, None]], Callable[[], Awaitable[None] | None]]] = []
    # Each role imports only what its parts use: a worker loads neither the API nor the dashboard (idle RSS).
    if role in (Role.API, Role.ALL, Role.DEV):
        import uvicorn

        from iep.entrypoints.api import create_app
        from iep.entrypoints.processes import inherited_socket

        config = uvicorn.Config(
            create_app(container, role),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",  # the API speaks no websocket: not loading the library keeps the role's memory down
            # Requests in flight get this long after SIGTERM; a connection that never finishes cannot hold the
            # process (uvicorn would otherwise wait for it forever).
            timeout_graceful_shutdown=API_SHUTDOWN_GRACE_SECONDS,
        )
        server = uvicorn.Server(config)
        # One signal handler for every part of the role: ours, so uvicorn must not install its own.
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

        def _stop_server() -> None:
            server.should_exit = True

        shared = inherited_socket()  # one of API_WORKERS copies: accept on the socket the parent bound

        async def _serve() -> None:
            await server.serve(sockets=[shared] if shared is not None else None)

        parts.append(("api", _serve, _stop_server))
    if role in (Role.WORKER, Role.ALL, Role.DEV):
        from iep.delivery.worker import Worker
        from iep.observability.metrics import BreakerCollector

        # The render processes warm up beside the first jobs: most mail renders in-process (or has nothing to
        # render) and need not wait for them, and a render that needs one waits for the warm-up it would have
        # waited for anyway. A role that could never render (.tsx without Bun) still refuses to start.
        container.renderer.check_startable()
        _BACKGROUND.add(warm_up := asyncio.create_task(_warm_renderer(container)))
        warm_up.add_done_callback(_BACKGROUND.discard)
        worker = Worker(
            container.queue(),
            container.delivery_deps(),
            concurrency=settings.worker_concurrency,
            grace_seconds=settings.worker_shutdown_grace_seconds,
            tenant_concurrency=settings.worker_tenant_cap,
        )
        parts.append(("worker", worker.run, worker.stop))
        if container.router.breaker is not None:
            container.metrics_registry.register(BreakerCollector(container.router.breaker))
    if role in (Role.RELAY, Role.ALL, Role.DEV):
        from iep.outbox.relay import Relay
        from iep.outbox.sweeper import Sweeper
        from iep.retention.sweeper import RetentionSweeper

        relay = Relay(container.engine, url, container.queue(), batch_size=settings.relay_batch_size)
        parts.append(("relay", relay.run, relay.stop))
        sweeper = Sweeper(
            container.engine,
            container.clock,
            stale_seconds=settings.queue_sweep_after_seconds,
            interval_seconds=settings.queue_sweep_interval_seconds,
        )
        parts.append(("sweeper", sweeper.run, sweeper.stop))
        retention = RetentionSweeper(
            container.engine,
            container.clock,
            container.attachment_store,
            attachment_days=settings.attachment_retention_days,
            message_days=settings.message_retention_days,
            interval_seconds=settings.retention_sweep_interval_seconds,
        )
        parts.append(("retention", retention.run, retention.stop))
    if role in (Role.WEBHOOKS, Role.ALL, Role.DEV):
        from iep.tenant_webhooks.worker import Dispatcher, WebhookWorker

        dispatcher = Dispatcher(
            container.engine,
            container.queue(WEBHOOK_QUEUE),
            container.clock,
            batch_size=settings.relay_batch_size,
            stale_seconds=settings.queue_sweep_after_seconds,
        )
        parts.append(("webhook-dispatcher", dispatcher.run, dispatcher.stop))
        webhooks = WebhookWorker(
            container.queue(WEBHOOK_QUEUE),
            container.webhook_deps(),
            concurrency=settings.webhook_concurrency,
            grace_seconds=settings.worker_shutdown_grace_seconds,
        )
        parts.append(("webhooks", webhooks.run, webhooks.stop))

    if role in (Role.API, Role.ALL, Role.DEV):
        # The directory's audit writer takes its channel from this process's requests (seed 004 MS-1).
        audit = container.directory.audit
        parts.append(("directory-audit", audit.run, audit.stop))
    if role in (Role.RELAY, Role.ALL, Role.DEV):
        from iep.directory.events import DIRECTORY_TOPIC
        from iep.directory.relay import DirectoryRelay

        directory_relay = DirectoryRelay(
            container.engine,
            container.queue(DIRECTORY_TOPIC),
            container.clock,
            container.directory.metrics,
            batch_size=settings.relay_batch_size,
        )
        parts.append(("directory-relay", directory_relay.run, directory_relay.stop))
    if role in (Role.REGISTRY, Role.ALL, Role.DEV):
        from iep.entrypoints.registry import registry_parts

        parts += registry_parts(container, settings)
    if role not in (Role.API, Role.ALL, Role.DEV):
        from iep.observability.server import OperationsServer

        # No API here: /metrics, /health and /ready on METRICS_PORT. The relay also reports queue depth and lag.
        scraped = (SEND_QUEUE, WEBHOOK_QUEUE) if role is Role.RELAY else ()
        ops = OperationsServer(container, role, [(name, container.queue(name)) for name in scraped])
        parts.append(("operations", ops.run, ops.stop))

    smtp_listen = None
    if role in (Role.SMTP, Role.ALL, Role.DEV):
        from iep.inbound_mail.server import inbound_server
        from iep.inbound_mail.sink import StoringSink
        from iep.inbound_mail.submission import Submission

        # DSNs and ARF reports take the provider events' path: stored once, applied forward only (F2).
        sink = StoringSink(container.engine)
        # Mail submission (D-9) enters the API's accept path, in this process.
        submission = Submission(container)
        inbound = inbound_server(
            settings, sink=sink, clock=container.clock, dev=role is Role.DEV, submission=submission
        )
        await inbound.start()  # bound now: a taken SMTP_LISTEN fails the start, not a part later
        smtp_listen = f"{settings.smtp_listen.rpartition(':')[0]}:{inbound.port}"
        parts.append(("smtp", inbound.run, inbound.stop))

    if role is Role.DEV:
        from iep.entrypoints.dev import announce

        await announce(container, settings, smtp_listen=smtp_listen)
    tasks: dict[asyncio.Task[None], Callable[[], Awaitable[None] | None]] = {
        asyncio.create_task(run(), name=name): halt for name, run, halt in parts
    }
    # Everything built so far (modules, app, container) lives as long as the process: move it out of the
    # collector's reach, so a full collection walks only what requests and jobs create, not the whole import
    # graph (that walk took 60-70 ms, the p99 of accepts). The collector was paused while start-up built it all
    # (`launch.py`).
    gc.freeze()
    gc.enable()
    log.info("started", role=role.value, parts=[n for n, _, _ in parts])
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not stopper and task.exception() is not None:
            log.error("part_crashed", part=task.get_name(), error=repr(task.exception()))
    for halt in tasks.values():
        result = halt()
        if result is not None:
            await result
    await asyncio.wait(list(tasks), timeout=settings.worker_shutdown_grace_seconds + 5)
    stopper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stopper
    await container.close()
    await asyncio.to_thread(tracing.shutdown)  # the spans still queued leave before the process does
    log.info("stopped", role=role.value)
