"""The driver's statements answer what SQLAlchemy's would, fail as SQLAlchemy's do, and keep to their connections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import Integer, Text, bindparam, column, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from iep.kit import db
from iep.kit.driver import Driver, fetch, fetchmany

_ECHO = (
    text("SELECT CAST(:doc AS jsonb) AS doc, CAST(:ids AS uuid[]) AS ids, CAST(:n AS integer) AS n, :word AS word")
    .bindparams(
        bindparam("doc", type_=JSONB),
        bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
        bindparam("word", type_=Text),
    )
    .columns(column("doc", JSONB), column("ids", ARRAY(UUID(as_uuid=True))), column("n", Integer), column("word", Text))
)
_TABLE = "driver_probe"
_INSERT = text(f"INSERT INTO {_TABLE} (id, label) VALUES (:id, :label) RETURNING id")  # noqa: S608 - a constant
_SLEEP = text("SELECT pg_sleep(:seconds) IS NULL AS slept, pg_backend_pid() AS pid")


@pytest.fixture
async def driver(database_url: str) -> AsyncIterator[Driver]:
    made = Driver(database_url, size=2, application_name="iep-driver-test")
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def probe_table(database_url: str) -> AsyncIterator[None]:
    conn = await asyncpg.connect(db.asyncpg_dsn(database_url))
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {_TABLE}; CREATE TABLE {_TABLE} (id integer PRIMARY KEY, label text)")
        yield
        await conn.execute(f"DROP TABLE IF EXISTS {_TABLE}")
    finally:
        await conn.close()


async def test_rows_are_the_ones_sqlalchemy_answers(database_url: str, driver: Driver) -> None:
    params = {"doc": {"a": [1, "ü"], "b": None}, "ids": [uuid.uuid4(), uuid.uuid4()], "n": 7, "word": "it's"}
    engine = db.create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            through_sqlalchemy = await fetch(conn, _ECHO, params)
    finally:
        await engine.dispose()
    through_driver = await fetch(driver, _ECHO, params)
    assert through_driver == through_sqlalchemy == [params]
    assert isinstance(through_driver[0]["ids"][0], uuid.UUID)


async def test_many_rows_in_one_round_trip_are_all_or_nothing(
    database_url: str, driver: Driver, probe_table: None
) -> None:
    answered = await fetchmany(driver, _INSERT, [{"id": i, "label": f"row {i}"} for i in range(3)])
    assert sorted(r["id"] for r in answered) == [0, 1, 2]
    with pytest.raises(IntegrityError):  # the third row repeats a key: none of the batch stays
        await fetchmany(driver, _INSERT, [{"id": 10, "label": "x"}, {"id": 11, "label": "y"}, {"id": 1, "label": "z"}])
    count = text(f"SELECT count(*) AS n FROM {_TABLE}")  # noqa: S608 - a constant
    assert (await fetch(driver, count, {}))[0]["n"] == 3


async def test_a_wrong_statement_fails_as_a_dbapi_error_and_the_next_one_runs(driver: Driver) -> None:
    with pytest.raises(DBAPIError) as failed:
        await fetch(driver, text("SELECT 1 / CAST(:zero AS integer) AS x"), {"zero": 0})
    assert not isinstance(failed.value, OperationalError)  # not "the database is away": callers would retry it
    assert await fetch(driver, text("SELECT 1 AS x"), {}) == [{"x": 1}]


async def test_a_killed_backend_is_replaced(database_url: str, driver: Driver) -> None:
    pid = (await fetch(driver, _SLEEP, {"seconds": 0}))[0]["pid"]
    admin = await asyncpg.connect(db.asyncpg_dsn(database_url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    # The kill reaches the idle connection as a closed socket, or fails the next statement as "away"; then a new
    # connection serves.
    try:
        again = await fetch(driver, _SLEEP, {"seconds": 0})
    except OperationalError:
        again = await fetch(driver, _SLEEP, {"seconds": 0})
    assert again[0]["pid"] != pid


async def test_no_more_connections_than_its_size(database_url: str, driver: Driver) -> None:
    rows = await asyncio.gather(*(fetch(driver, _SLEEP, {"seconds": 0.05}) for _ in range(8)))
    assert len({r[0]["pid"] for r in rows}) <= 2
    admin = await asyncpg.connect(db.asyncpg_dsn(database_url))
    try:
        opened = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'iep-driver-test'"
        )
    finally:
        await admin.close()
    assert opened <= 2


async def test_a_statement_cancelled_midway_does_not_leave_its_connection_in_use(driver: Driver) -> None:
    slow = asyncio.create_task(fetch(driver, _SLEEP, {"seconds": 5}))
    await asyncio.sleep(0.2)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    quick = [asyncio.create_task(fetch(driver, _SLEEP, {"seconds": 0})) for _ in range(2)]
    done, _ = await asyncio.wait(quick, timeout=2)
    assert len(done) == 2, "both connections serve again at once"


async def test_after_close_it_refuses_as_a_database_that_is_away(database_url: str) -> None:
    driver = Driver(database_url, size=1)
    await fetch(driver, text("SELECT 1 AS x"), {})
    await driver.close()
    with pytest.raises(OperationalError):
        await fetch(driver, text("SELECT 1 AS x"), {})


async def test_a_waiter_cancelled_after_its_wake_up_passes_it_on(database_url: str) -> None:
    driver = Driver(database_url, size=1)
    try:
        async with driver._connection("held by the test"):  # the only connection
            first = asyncio.create_task(fetch(driver, _SLEEP, {"seconds": 0}))
            second = asyncio.create_task(fetch(driver, _SLEEP, {"seconds": 0}))
            await asyncio.sleep(0.05)  # both wait for it
        # Given back just now, it woke `first`, which is cancelled before it runs.
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        done, _ = await asyncio.wait([second], timeout=2)
        assert second in done, "the wake-up went on to the next waiter"
    finally:
        await driver.close()
