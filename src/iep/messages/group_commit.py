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
        if len(batch) == 1:
            await self._write_one(batch[0])
            return
        try:
            async with self._engine.connect() as pooled:
                conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
                inserted: dict[uuid.UUID, dict[str, Any]] = await repository.insert_accepted_many(
                    conn, [w.params for w in batch]
                )
        except Exception:
            # Usually nothing was committed (a bad row); if the batch did commit and only the lookup failed, its
            # messages are found here and not written twice. The rest go one by one.
            inserted = await self._already_inserted(batch)
            for waiting in batch:
                found = inserted.get(waiting.params["id"])
                if found is None:
                    await self._write_one(waiting)
                elif not waiting.done.done():
                    waiting.done.set_result(found)
            return
        for waiting in batch:
            if not waiting.done.done():
                waiting.done.set_result(inserted.get(waiting.params["id"]))

    async def _already_inserted(self, batch: list[_Waiting]) -> dict[uuid.UUID, dict[str, Any]]:
        try:
            async with self._engine.connect() as conn:
                return await repository.inserted(conn, [w.params for w in batch])
        except Exception:
            return {}

    async def _write_one(self, waiting: _Waiting) -> None:
        try:
            async with self._engine.connect() as pooled:
                conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
                row = await repository.insert_accepted(conn, waiting.params)
        except Exception as exc:
            _fail(waiting, exc)
            return
        if not waiting.done.done():
            waiting.done.set_result(row)


def _fail(waiting: _Waiting, exc: BaseException) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(exc)
        waiting.done.exception()  # mark retrieved: a request that went away must not leave a warning behind
