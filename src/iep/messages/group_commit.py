"""Group commit for accepts (SPEC B2): concurrent requests share one round trip and one commit.

While a batch is being written, the accepts that arrive meanwhile wait for the next one: a busy API writes many
messages per commit, an idle one writes each at once (no timer, so no added latency at low load). Each message
keeps its own guarantees: its row, `queued` event and outbox row are in the batch's one transaction, and an
idempotency conflict skips only that message. A batch that fails as a whole is written again one message at a
time, so a bad row fails only its own request.
"""

from __future__ import annotations

import uuid
from typing import Any

from iep.kit.batching import Batcher
from iep.kit.driver import Driver
from iep.messages import repository

MAX_BATCH = 128


class GroupCommit:
    def __init__(self, driver: Driver, *, max_batch: int = MAX_BATCH) -> None:
        self._driver = driver
        self._batches: Batcher[dict[str, Any], dict[str, Any] | Exception | None] = Batcher(
            self._write, max_batch=max_batch
        )

    async def insert(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """`repository.insert_accepted`, committed together with whatever other accepts are waiting."""
        result = await self._batches.submit(params)
        if isinstance(result, Exception):
            raise result
        return result

    async def _write(self, batch: list[dict[str, Any]]) -> list[dict[str, Any] | Exception | None]:
        return await write_many(self._driver, batch)


async def write_many(driver: Driver, batch: list[dict[str, Any]]) -> list[dict[str, Any] | Exception | None]:
    """`repository.insert_accepted` for each of `batch`, committed together; the answers in the batch's order.

    None: an idempotency conflict (nothing inserted for that one). An exception: that message alone failed. Also
    the write of `POST /v1/messages/batch`, whose messages commit together whatever the group commit holds.
    """
    try:
        # One message too: on the driver's own connections (`kit/driver.py`), as one implicit transaction.
        inserted: dict[uuid.UUID, dict[str, Any]] = await repository.insert_accepted_many(driver, batch)
    except Exception:
        # Usually nothing was committed (a bad row); if the batch did commit and only its answer was lost, its
        # messages are found here and not written twice. The rest go one by one, each failing on its own (with
        # SQLAlchemy's error, as any statement of IEP's).
        inserted = await _already_inserted(driver, batch)
        return [inserted[p["id"]] if p["id"] in inserted else await _write_one(driver, p) for p in batch]
    return [inserted.get(p["id"]) for p in batch]


async def _already_inserted(driver: Driver, batch: list[dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    try:
        return await repository.inserted(driver, batch)
    except Exception:
        return {}


async def _write_one(driver: Driver, params: dict[str, Any]) -> dict[str, Any] | Exception | None:
    try:
        return await repository.insert_accepted(driver, params)
    except Exception as exc:
        return exc
