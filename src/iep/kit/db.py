"""Database plumbing: one MetaData, the async engine, URL forms for SQLAlchemy and raw asyncpg."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# A pooled connection that sat unused longer than this is pinged before it is handed out, so a server restart
# or a killed backend is found before the caller's statement. A connection in steady use is not: pinging every
# checkout costs three round trips (BEGIN, `;`, ROLLBACK), more than the one statement of an accept.
IDLE_PING_SECONDS = 1.0

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url}")


def asyncpg_dsn(url: str) -> str:
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+asyncpg://") :]


async def fetchmany(conn: AsyncConnection, statement: Any, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """`statement` once per row in one round trip, answering the RETURNING rows of all of them: asyncpg's
    `fetchmany` on the driver's connection, one implicit transaction (all or nothing). SQLAlchemy's executemany
    answers no rows (a second statement has to find them) and its per-row parameter handling costs more CPU than
    the driver's whole execution. Parameters get the same conversions SQLAlchemy would apply (JSON text for jsonb).
    """
    sql, binds = for_driver(statement, conn.dialect)
    args = [tuple(row[name] if process is None else process(row[name]) for name, process in binds) for row in rows]
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None  # a checked-out connection has its driver's
    try:
        answer: list[Any] = await driver.fetchmany(sql, args)
    except Exception:
        # SQLAlchemy did not see the error, so it cannot tell a lost connection from a refused row: either way this
        # one is not handed out again (a failed batch is rare; a new connection costs a few milliseconds).
        await conn.invalidate()
        raise
    return answer


@functools.lru_cache(maxsize=32)
def for_driver(statement: Any, dialect: Dialect) -> tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]]:
    """`statement` in the driver's own form ($1, $2, … with the casts SQLAlchemy renders) and, in that order, each
    parameter's name with the conversion SQLAlchemy would apply to it."""
    compiled = statement.compile(dialect=dialect)
    processors = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
    }
    assert compiled.positiontup is not None  # asyncpg's paramstyle is positional
    return compiled.string, tuple((name, processors[name]) for name in compiled.positiontup)


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection on which each statement commits by itself: one round trip for a statement that is
    atomic alone (a CTE, asyncpg's executemany), where a transaction adds BEGIN and COMMIT (or a read's ROLLBACK)."""
    async with engine.connect() as pooled:
        yield await pooled.execution_options(isolation_level="AUTOCOMMIT")


def create_engine(url: str, *, pool_size: int = 20, application_name: str = "iep") -> AsyncEngine:
    engine = create_async_engine(
        sqlalchemy_url(url),
        # Names the role in pg_stat_activity, so an operator (or a fault test) can tell the connections apart.
        connect_args={"server_settings": {"application_name": application_name}},
        pool_size=pool_size,
        max_overflow=pool_size,
        # Most recently returned first: hot connections stay hot (no ping), the rest age and get pinged.
        pool_use_lifo=True,
        pool_recycle=1800,
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """A connection killed by pg_terminate_backend or a server restart is replaced, not handed out."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    def returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and hands out a fresh one.
            raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc

    event.listen(pool, "checkin", returned)
    event.listen(pool, "checkout", checkout)
