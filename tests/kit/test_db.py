"""The pool pings a connection only after it sat idle, and replaces one whose backend was killed meanwhile."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit import db


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the dialect's pings."""
    calls: list[int] = []
    dialect_cls = type(db.create_engine("postgresql://u@127.0.0.1/x").sync_engine.dialect)
    original = dialect_cls.do_ping

    def counting(self: object, dbapi_connection: object) -> bool:
        calls.append(1)
        return original(self, dbapi_connection)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect_cls, "do_ping", counting)
    return calls


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def test_a_connection_in_steady_use_is_not_pinged(database_url: str, pings: list[int]) -> None:
    engine = db.create_engine(database_url, pool_size=2)
    try:
        first = await _backend_pid(engine)
        for _ in range(20):
            assert await _backend_pid(engine) == first  # most recently returned first: the same connection
    finally:
        await engine.dispose()
    assert pings == []


async def test_an_idle_connection_whose_backend_was_killed_is_replaced(
    database_url: str, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.create_engine(database_url, pool_size=2)
    try:
        killed = await _backend_pid(engine)
        admin = await asyncpg.connect(db.asyncpg_dsn(database_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", killed)
        finally:
            await admin.close()
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every returned connection now counts as idle
        fresh = await _backend_pid(engine)
    finally:
        await engine.dispose()
    assert fresh != killed
    assert pings, "the idle connection was pinged before use"


async def test_autocommit_sends_no_begin_and_executemany_stays_all_or_nothing(database_url: str) -> None:
    engine = db.create_engine(database_url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS autocommit_probe"))
            await conn.execute(text("CREATE TABLE autocommit_probe (n integer PRIMARY KEY)"))
        async with db.autocommit(engine) as conn:
            # No transaction block: each statement is a transaction of its own, so its start time moves on.
            started = [(await conn.execute(text("SELECT transaction_timestamp()"))).scalar() for _ in range(2)]
            assert started[0] != started[1]
            await conn.execute(text("INSERT INTO autocommit_probe VALUES (:n)"), [{"n": 1}, {"n": 2}])
            with pytest.raises(Exception, match="duplicate key"):
                await conn.execute(text("INSERT INTO autocommit_probe VALUES (:n)"), [{"n": 3}, {"n": 1}])
            # Seen from another connection before this block ends: each statement committed on its own.
            async with engine.connect() as other:
                rows = (await other.execute(text("SELECT n FROM autocommit_probe ORDER BY n"))).scalars().all()
            assert rows == [1, 2]  # the failed executemany left nothing, not even its first row
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS autocommit_probe"))
        await engine.dispose()


async def test_fetchmany_answers_every_rows_returning_in_one_go_or_fails_whole(database_url: str) -> None:
    from sqlalchemy import bindparam
    from sqlalchemy.dialects.postgresql import JSONB

    engine = db.create_engine(database_url, pool_size=2)
    insert = text(
        "INSERT INTO fetchmany_probe (n, doc) VALUES (:n, :doc) ON CONFLICT (n) DO NOTHING RETURNING n, doc"
    ).bindparams(bindparam("doc", type_=JSONB))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS fetchmany_probe"))
            await conn.execute(text("CREATE TABLE fetchmany_probe (n integer PRIMARY KEY CHECK (n < 100), doc jsonb)"))
        async with engine.connect() as conn:
            rows = await db.fetchmany(conn, insert, [{"n": 1, "doc": {"a": [1]}}, {"n": 2, "doc": {"b": "x"}}])
            assert [(r["n"], r["doc"]) for r in rows] == [(1, {"a": [1]}), (2, {"b": "x"})]
            # A row that returns nothing (a conflict) is simply absent from the answer.
            assert [r["n"] for r in await db.fetchmany(conn, insert, [{"n": 2, "doc": {}}, {"n": 3, "doc": {}}])] == [3]
        async with engine.connect() as conn:
            with pytest.raises(Exception, match="check constraint"):
                await db.fetchmany(conn, insert, [{"n": 4, "doc": {}}, {"n": 500, "doc": {}}])
        async with engine.connect() as conn:  # the pool hands out a working connection after the failure
            stored = (await conn.execute(text("SELECT n FROM fetchmany_probe ORDER BY n"))).scalars().all()
        assert stored == [1, 2, 3]  # nothing of the failed call, not even its first row
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS fetchmany_probe"))
        await engine.dispose()
