"""A LISTEN connection that survives database restarts and pg_terminate_backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("iep.listen")


async def _first(*aws: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def listen_forever(dsn: str, channel: str, on_notify: Callable[[], None], stopping: asyncio.Event) -> None:
    """Call `on_notify` for each NOTIFY on `channel`, and once after every (re)connect, until `stopping`."""
    while not stopping.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn, ev=lost: ev.set())
            await conn.add_listener(channel, lambda *_: on_notify())
            on_notify()  # anything sent while we were not listening
            while not conn.is_closed() and not stopping.is_set():
                await _first(lost.wait(), stopping.wait(), asyncio.sleep(5.0))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("listen_failed", channel=channel, error=str(exc)[:200])
            await asyncio.sleep(1.0)
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
