"""The `redis` queue backend (seeds 000 to 002, SPEC D5): the BullMQ protocol through the `bullmq` package.

Jobs live in BullMQ's own keys under the `iep` prefix, so BullMQ's dashboards (Bull Board, Taskforce) show
them: priorities map to BullMQ priorities (1 high … 3 low), delays and our retry schedule to the delayed set,
dead letters to the failed set, and a consumer that dies mid-job is recovered by BullMQ's stalled-job check.

BullMQ drives its worker with a processor callback; IEP's worker pulls. The processor below hands each job to
`consume()` and waits for the worker's verdict, then tells BullMQ the matching move.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from bullmq import Queue as BullQueue
from bullmq import Worker as BullWorker
from bullmq.custom_errors import DelayedError, UnrecoverableError
from redis.exceptions import RedisError

from iep.kit.clock import Clock
from iep.queue import codec
from iep.queue.port import SEND_QUEUE, Depth, Job

log = structlog.get_logger("iep.queue.redis")

PREFIX = "iep"
JOB_NAME = "deliver"


@dataclass
class _Verdict:
    """The worker's decision on one BullMQ job, and BullMQ's acknowledgement that it was applied."""

    decided: asyncio.Future[tuple[str, Any]]
    applied: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class RedisQueue:
    name = "redis"

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        concurrency: int,
        lock_seconds: float = 30.0,
        stalled_check_seconds: float = 15.0,
        prefix: str = PREFIX,
        queue: str = SEND_QUEUE,
    ) -> None:
        self._queue_name = queue
        self._url = url
        self._clock = clock
        self._concurrency = concurrency
        self._lock_ms = int(lock_seconds * 1000)
        self._stalled_ms = int(stalled_check_seconds * 1000)
        self._prefix = prefix
        self._queue: BullQueue | None = None
        self._worker: BullWorker | None = None
        self._handed: asyncio.Queue[Job] = asyncio.Queue()
        self._verdicts: dict[str, _Verdict] = {}
        self._closing: asyncio.Future[None] | None = None
        self._stopping = asyncio.Event()

    def _bull(self) -> BullQueue:
        if self._queue is None:
            self._queue = BullQueue(self._queue_name, {"connection": self._url, "prefix": self._prefix})
        return self._queue

    def _options(self, job: Job) -> dict[str, Any]:
        delay_ms = 0
        if job.available_at is not None:
            delay_ms = max(0, int((job.available_at - self._clock.now()).total_seconds() * 1000))
        return {
            "priority": job.priority + 1,
            "delay": delay_ms,
            "attempts": 1,  # IEP's own retry schedule moves the job; BullMQ never retries on its own
            "removeOnComplete": True,
            "removeOnFail": False,  # the failed set is the dead-letter queue
        }

    async def publish(self, jobs: Sequence[Job], *, connection: Any = None) -> None:
        if jobs:
            await self._bull().addBulk(
                [{"name": JOB_NAME, "data": codec.encode(j), "opts": self._options(j)} for j in jobs]
            )

    async def consume(self, room: Callable[[], int] | None = None) -> AsyncIterator[Job]:
        self._worker = BullWorker(
            self._queue_name,
            self._process,
            {
                "connection": self._url,
                "prefix": self._prefix,
                "concurrency": self._concurrency,
                "lockDuration": self._lock_ms,
                "stalledInterval": self._stalled_ms,
                # A stalled job goes back to wait however often its consumer died; the database lease decides.
                "maxStalledCount": 1_000_000,
                "drainDelay": 1,
            },
        )
        # BullMQ learns that Redis ≥ 6 takes fractional block timeouts only once asked; unasked, it rounds every
        # wait for a delayed job up to a whole second.
        with contextlib.suppress(RedisError, OSError, AttributeError):
            await self._worker.backend.blocking_connection.getRedisVersion()
        self._worker.on("completed", lambda bull_job, *_: self._applied(bull_job))
        self._worker.on("failed", lambda bull_job, *_: self._applied(bull_job))
        self._worker.on("error", self._on_error)
        while not self._stopping.is_set():
            getter = asyncio.ensure_future(self._handed.get())
            stopper = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter in done:
                yield getter.result()
            else:
                getter.cancel()

    async def _process(self, bull_job: Any, token: str) -> None:
        verdict = _Verdict(asyncio.get_running_loop().create_future())
        job = codec.decode(bull_job.data, deliveries=int(bull_job.attemptsStarted or 1), receipt=verdict)
        self._verdicts[str(bull_job.id)] = verdict
        if self._stopping.is_set():
            verdict.decided.set_result(("retry", None))
        else:
            await self._handed.put(job)
        kind, arg = await verdict.decided
        if kind == "ack":
            return  # BullMQ completes the job, then emits "completed"
        if kind == "dead":
            raise UnrecoverableError(arg)  # BullMQ moves it to the failed set, then emits "failed"
        try:
            at_ms = int(time.time() * 1000) if arg is None else self._wall_ms(arg)
            await bull_job.moveToDelayed(at_ms, token)
        finally:
            self._applied(bull_job)
        raise DelayedError()

    def _applied(self, bull_job: Any) -> None:
        verdict = self._verdicts.pop(str(getattr(bull_job, "id", "")), None)
        if verdict is not None and not verdict.applied.done():
            verdict.applied.set_result(None)

    def _on_error(self, err: Exception, bull_job: Any = None, *_: Any) -> None:
        log.warning("queue_worker_error", error=str(err)[:200] or type(err).__name__)
        if bull_job is not None:
            self._applied(bull_job)

    def _wall_ms(self, at: datetime) -> int:
        # The worker's clock may be a test clock; BullMQ delays run on Redis time.
        return int(time.time() * 1000 + (at - self._clock.now()).total_seconds() * 1000)

    async def _decide(self, job: Job, kind: str, arg: Any = None) -> None:
        verdict: _Verdict = job.receipt
        if not verdict.decided.done():
            verdict.decided.set_result((kind, arg))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(verdict.applied), timeout=10)

    async def ack(self, job: Job) -> None:
        await self._decide(job, "ack")

    async def retry(self, job: Job, available_at: datetime) -> None:
        await self._decide(job, "retry", available_at)

    async def release(self, job: Job) -> None:
        await self._decide(job, "retry", None)

    async def dead_letter(self, job: Job, reason: str) -> None:
        await self._decide(job, "dead", reason)

    async def depth(self) -> Depth:
        counts = await self._bull().getJobCounts("waiting", "prioritized", "delayed", "failed")
        return Depth(
            ready=int(counts.get("waiting", 0)) + int(counts.get("prioritized", 0)),
            delayed=int(counts.get("delayed", 0)),
            dead=int(counts.get("failed", 0)),
        )

    def wake(self) -> None:
        """BullMQ wakes itself: delayed jobs are promoted by Redis time."""

    async def stop(self) -> None:
        self._stopping.set()
        while not self._handed.empty():
            await self.release(self._handed.get_nowait())
        if self._worker is not None:
            # Stop fetching; jobs already handed out finish as the worker settles them.
            self._closing = asyncio.ensure_future(self._worker.close())

    async def close(self) -> None:
        if self._closing is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(self._closing, timeout=15)
        if self._queue is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._queue.close()
            self._queue = None
