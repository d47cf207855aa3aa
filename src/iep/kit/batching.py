"""Concurrent callers' items share one call: the group-commit shape, for any statement that takes many rows.

While a batch runs, the items that arrive meanwhile wait for the next one, so a busy process makes one round trip
for many items and an idle one makes it at once (no timer, no added latency at low load). With `linger`, a batch
that follows another one back to back (the process is busy) first waits that long for more items: a worker's
sends in flight reach each statement a few at a time, and a couple of milliseconds doubles what one round trip
carries. A batch that fails fails each of its callers with the same exception; what to do then is each caller's
decision, as it would be for its own statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Waiting(Generic[T, R]):
    item: T
    done: asyncio.Future[R]


class Batcher(Generic[T, R]):
    def __init__(
        self, run: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 64, linger: float = 0.0
    ) -> None:
        """`run(items)` answers one result per item, in order; `linger` seconds between back-to-back batches."""
        self._run = run
        self._max_batch = max_batch
        self._linger = linger
        self._waiting: list[_Waiting[T, R]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        waiting: _Waiting[T, R] = _Waiting(item, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_while_waiting())
        # A caller that is cancelled gets its CancelledError, and its item stays in the batch: a batch already on
        # the wire runs for every item in it, and its answer to a cancelled future is dropped.
        return await waiting.done

    async def _run_while_waiting(self) -> None:
        first = True
        while self._waiting:
            if not first and self._linger and len(self._waiting) < self._max_batch:
                await asyncio.sleep(self._linger)
            first = False
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            try:
                results = await self._run([w.item for w in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"a batch of {len(batch)} answered {len(results)} results")
            except BaseException as exc:  # the runner must not die with callers left unanswered
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)
                        waiting.done.exception()  # retrieved: a caller that went away leaves no warning
                if not isinstance(exc, Exception):
                    raise
                continue
            for waiting, result in zip(batch, results, strict=True):
                if not waiting.done.done():
                    waiting.done.set_result(result)
