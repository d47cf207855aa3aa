"""Client CPU per statement: through SQLAlchemy's engine, asyncpg's pool, IEP's driver and a bare connection.

The same small statement (an array of 8 uuids in, 8 rows out), one at a time, so each figure is the client's own
cost around one round trip: what `kit/driver.py` saves on each of a worker's busiest statements.

Run alone: `python -m bench.driver [--statements 3000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from bench import scratch
from iep.kit.db import asyncpg_dsn, autocommit, create_engine
from iep.kit.driver import Driver

_STATEMENT = text("SELECT x FROM unnest(CAST(:ids AS uuid[])) AS x").bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
)
_SQL = "SELECT x FROM unnest($1::uuid[]) AS x"


async def _no_reset(conn: Any) -> None:
    """The pool's default reset is a round trip per release; the fairest pool skips it."""


async def _measure(run: Callable[[], Awaitable[Any]], statements: int) -> tuple[float, float]:
    for _ in range(200):  # warm: prepared statements, caches
        await run()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(statements):
        await run()
    return 1e6 * (time.process_time() - cpu) / statements, 1e6 * (time.perf_counter() - wall) / statements


async def main(args: argparse.Namespace) -> int:
    ids = [uuid.uuid4() for _ in range(8)]
    async with scratch.database("driver") as url:
        engine = create_engine(url, pool_size=2)
        pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=1, max_size=2, reset=_no_reset)
        driver = Driver(url, size=2)
        bare = await asyncpg.connect(asyncpg_dsn(url))
        try:

            async def through_sqlalchemy() -> Any:
                async with autocommit(engine) as conn:
                    return (await conn.execute(_STATEMENT, {"ids": ids})).all()

            async def through_pool() -> Any:
                async with pool.acquire() as conn:
                    return await conn.fetch(_SQL, ids)

            async def through_driver() -> Any:
                return await driver.fetch(_STATEMENT, {"ids": ids})

            async def on_one_connection() -> Any:
                return await bare.fetch(_SQL, ids)

            paths = {
                "SQLAlchemy engine, autocommit": through_sqlalchemy,
                "asyncpg pool (no reset query)": through_pool,
                "IEP driver (kit/driver.py)": through_driver,
                "one asyncpg connection": on_one_connection,
            }
            print(f"{'path':<32} {'client CPU µs':>14} {'wall µs':>9}")
            for name, run in paths.items():
                cpu, wall = await _measure(run, args.statements)
                print(f"{name:<32} {cpu:>14.0f} {wall:>9.0f}")
        finally:
            await bare.close()
            await driver.close()
            await pool.close()
            await engine.dispose()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=3000)
    sys.exit(asyncio.run(main(parser.parse_args())))
