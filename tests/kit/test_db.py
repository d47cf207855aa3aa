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
