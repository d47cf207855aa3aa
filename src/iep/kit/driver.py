"""The busiest statements on asyncpg directly, on a few connections of their own.

A worker runs five statements per batch of sends (the job claim, the message claim, the sending contexts, the
sent records, the job ack). Through SQLAlchemy's engine each costs ~340 µs of client CPU where the driver alone
spends ~65 (checkout and checkin, execution options, the execution context, result processing); asyncpg's own
pool costs ~120, and its default reset adds a round trip per release; these connections ~77
(`python -m bench.driver`). A statement is compiled once by SQLAlchemy (same SQL, same casts, same parameter
conversions) and run by the driver; JSON comes back decoded, as SQLAlchemy's typed columns answer it, and errors
come out as SQLAlchemy's, so callers handle a database that went away the same way whichever path ran it.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.db import asyncpg_dsn, for_driver
from iep.kit.db import fetchmany as db_fetchmany

# Failures that say the connection or the server is away, not that the statement is wrong.
_AWAY = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # A backend killed while its connection sat idle: the server's goodbye can be read before the socket's close,
    # and the next statement then finds the connection still consuming that error.
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
)
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
CONNECT_TIMEOUT_SECONDS = 10.0


class Driver:
    """Up to `size` asyncpg connections, opened when first needed; each statement runs alone (autocommit)."""

    def __init__(self, database_url: str, *, size: int = 8, application_name: str = "iep") -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._size = size
        self._application_name = application_name
        self._idle: list[asyncpg.Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def fetch(self, statement: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`statement` (a SQLAlchemy `text()` or Core statement without expanding parameters) with `params`."""
        sql, binds = _compiled(statement)
        args = [params[name] if process is None else process(params[name]) for name, process in binds]
        async with self._connection(sql) as conn:
            records = await conn.fetch(sql, *args)
        return [dict(r) for r in records]

    async def fetchmany(self, statement: Any, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """`statement` once per row in one round trip, all or nothing; the RETURNING rows of all of them."""
        sql, binds = _compiled(statement)
        args = [tuple(row[name] if process is None else process(row[name]) for name, process in binds) for row in rows]
        async with self._connection(sql) as conn:
            records = await conn.fetchmany(sql, args)
        return [dict(r) for r in records]

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._open -= 1
            try:
                await asyncio.wait_for(conn.close(), timeout=2)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                conn.terminate()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    @asynccontextmanager
    async def _connection(self, sql: str) -> AsyncIterator[asyncpg.Connection]:
        conn = await self._acquire(sql)
        try:
            yield conn
        except BaseException as exc:
            # After a failure (or a cancel mid-statement) the connection's state is not known: it is not reused.
            # Failures are rare, and a new connection costs a few milliseconds.
            conn.terminate()
            self._gone()
            if isinstance(exc, _DRIVER_ERRORS):
                raise _translated(sql, exc) from exc
            raise
        else:
            self._release(conn)

    async def _acquire(self, sql: str) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise OperationalError(sql, None, asyncpg.InterfaceError("the driver's connections are closed"))
            while self._idle:
                conn = self._idle.pop()  # most recently used first: it is the one least likely to have gone stale
                if not conn.is_closed():
                    return conn
                self._gone()
            if self._open < self._size:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException as exc:
                    self._gone()
                    if isinstance(exc, _DRIVER_ERRORS):
                        raise _translated(sql, exc) from exc
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # woken, then cancelled before it took the connection: the next one takes it
                raise

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": self._application_name},
        )
        # SQLAlchemy's JSON parameter conversion hands over text; results come back as Python values.
        for name in ("json", "jsonb"):
            await conn.set_type_codec(name, schema="pg_catalog", encoder=_as_text, decoder=orjson.loads, format="text")
        return conn

    def _release(self, conn: asyncpg.Connection) -> None:
        if self._closed:
            conn.terminate()
            self._gone()
            return
        self._idle.append(conn)
        self._wake_one()

    def _gone(self) -> None:
        self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _translated(sql: str, exc: Exception) -> DBAPIError:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, None, exc)
    if isinstance(exc, _AWAY):
        return OperationalError(sql, None, exc)
    return DBAPIError(sql, None, exc)


@functools.cache
def _dialect() -> Dialect:
    return asyncpg_dialect()  # type: ignore[no-untyped-call]


def _compiled(statement: Any) -> tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]]:
    return for_driver(statement, _dialect())


# What a repository function runs its statements on: a connection of SQLAlchemy's (inside a caller's transaction,
# in tests, on the less busy paths) or the driver (the busy ones). Either answers plain dicts.
Executor = AsyncConnection | Driver


async def fetch(on: Executor, statement: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    if isinstance(on, Driver):
        return await on.fetch(statement, params)
    return [dict(row._mapping) for row in await on.execute(statement, params)]


async def fetchmany(on: Executor, statement: Any, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`statement` once per row in one round trip, all or nothing, answering the RETURNING rows (`db.fetchmany`)."""
    if isinstance(on, Driver):
        return await on.fetchmany(statement, rows)
    return [dict(r) for r in await db_fetchmany(on, statement, rows)]
