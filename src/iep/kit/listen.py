"""A LISTEN connection that survives database restarts and pg_terminate_backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
import structlog

log = structlog.get_logger("iep.listen")


async def listen_forever(dsn: str, channel: str, on_notify: Callable[[], None], stopping: asyncio.Event) -> None:
    """Call `on_notify` for each NOTIFY on `channel`, and once after every (re)connect, until `stopping`."""
    while not stopping.is_set():
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn)
            await conn.add_listener(channel, lambda *_: on_notify())
            on_notify()  # anything sent while we were not listening
            while not conn.is_closed() and not stopping.is_set():
                await asyncio.sleep(1.0)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("listen_failed", channel=channel, error=str(exc)[:200])
            await asyncio.sleep(1.0)
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
