"""Group commit for accepts (SPEC B2): concurrent requests share one round trip and one commit.

While a batch is being written, the accepts that arrive meanwhile wait for the next one: a busy API writes many
messages per commit, an idle one writes each at once (no timer, so no added latency at low load). Each message
keeps its own guarantees: its row, `queued` event and outbox row are in the batch's one transaction, and an
idempotency conflict skips only that message. A batch that fails as a whole is written again one message at a
time, so a bad row fails only its own request.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from iep.messages import repository

MAX_BATCH = 128


@dataclass(slots=True)
class _Waiting:
    params: dict[str, Any]
    done: asyncio.Future[dict[str, Any] | None]


class GroupCommit:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """`repository.insert_accepted`, committed together with whatever other accepts are waiting."""
        waiting = _Waiting(params, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting())
        # A request that goes away does not take its message out of a batch already on the wire.
        return await asyncio.shield(waiting.done)

    async def _write_while_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            try:
                await self._write(batch)
            except BaseException as exc:  # the task itself must not die with futures left unanswered
                for waiting in batch:
                    _fail(waiting, exc)
                if not isinstance(exc, Exception):
                    raise

    async def _write(self, batch: list[_Waiting]) -> None:
        results = await write_many(self._engine, [w.params for w in batch])
        for waiting, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                _fail(waiting, result)
            elif not waiting.done.done():
                waiting.done.set_result(result)


async def write_many(engine: AsyncEngine, batch: list[dict[str, Any]]) -> list[dict[str, Any] | Exception | None]:
    """`repository.insert_accepted` for each of `batch`, committed together; the answers in the batch's order.

    None: an idempotency conflict (nothing inserted for that one). An exception: that message alone failed. Also
    the write of `POST /v1/messages/batch`, whose messages commit together whatever the group commit holds.
    """
    if len(batch) == 1:
        return [await _write_one(engine, batch[0])]
    try:
        async with engine.connect() as pooled:
            conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
            inserted: dict[uuid.UUID, dict[str, Any]] = await repository.insert_accepted_many(conn, batch)
    except Exception:
        # Usually nothing was committed (a bad row); if the batch did commit and only the lookup failed, its
        # messages are found here and not written twice. The rest go one by one.
        inserted = await _already_inserted(engine, batch)
        return [inserted[p["id"]] if p["id"] in inserted else await _write_one(engine, p) for p in batch]
    return [inserted.get(p["id"]) for p in batch]


async def _already_inserted(engine: AsyncEngine, batch: list[dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    try:
        async with engine.connect() as conn:
            return await repository.inserted(conn, batch)
    except Exception:
        return {}


async def _write_one(engine: AsyncEngine, params: dict[str, Any]) -> dict[str, Any] | Exception | None:
    try:
        async with engine.connect() as pooled:
            conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
            return await repository.insert_accepted(conn, params)
    except Exception as exc:
        return exc


def _fail(waiting: _Waiting, exc: BaseException) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(exc)
        waiting.done.exception()  # mark retrieved: a request that went away must not leave a warning behind
