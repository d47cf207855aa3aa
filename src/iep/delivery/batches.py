"""The send step's busiest statements, shared by the sends in flight: claims, sending contexts, sent records.

A worker delivers up to `WORKER_CONCURRENCY` messages at once, and they reach the claim and the record at nearly
the same moments; each of those statements then costs a round trip and a statement's overhead for one row.
Batched (`iep.kit.batching`), a busy worker claims and records many messages per round trip, and an idle one
still makes each at once. Every guarantee stays per message: a claim takes only what is due, a record checks its
own claim's fence, and a batch of records that fails is written again one by one, so one bad row fails only its
own message.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from iep.delivery import context as sending_context
from iep.delivery import repository
from iep.delivery.context import SendingContext
from iep.delivery.repository import ContextWanted, Sent
from iep.kit.batching import Batcher
from iep.kit.clock import Clock
from iep.kit.driver import Driver

# Between back-to-back batches of a busy worker only: at 32 sends in flight a statement then carries ~8 messages
# instead of ~6, and the worker and PostgreSQL spend ~6-10 % less CPU per message (docs/benchmarks.md). An idle
# worker's statement still goes at once. For sent records this widens the window in which a crash after the
# provider's "accepted" leaves a message to be sent again (as `ambiguous`) by at most this long, under load only.
LINGER_SECONDS = 0.002


class SendBatches:
    def __init__(self, driver: Driver, clock: Clock, *, owner: str, lease: timedelta, max_batch: int = 64):
        self._driver = driver
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._claims: Batcher[uuid.UUID, dict[str, Any] | None] = Batcher(
            self._claim_many, max_batch=max_batch, linger=LINGER_SECONDS
        )
        self._records: Batcher[Sent, bool | Exception] = Batcher(
            self._record_many, max_batch=max_batch, linger=LINGER_SECONDS
        )
        self._contexts: Batcher[ContextWanted, SendingContext] = Batcher(
            self._contexts_many, max_batch=max_batch, linger=LINGER_SECONDS
        )

    async def context(self, wanted: ContextWanted) -> SendingContext:
        """What the send needs beyond the message row (`delivery/context.py`), read with the others in flight."""
        return await self._contexts.submit(wanted)

    async def _contexts_many(self, many: list[ContextWanted]) -> list[SendingContext]:
        return await sending_context.load_many(self._driver, many, self._clock.now())

    async def claim(self, message_id: uuid.UUID) -> dict[str, Any] | None:
        """The message's row if this worker now holds it (see `repository.claim_many`)."""
        return await self._claims.submit(message_id)

    async def record_sent(self, sent: Sent) -> bool:
        """True when recorded; False when another claim took the message since (its record stands)."""
        outcome = await self._records.submit(sent)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _claim_many(self, ids: list[uuid.UUID]) -> list[dict[str, Any] | None]:
        rows = await repository.claim_many(self._driver, ids, self._owner, self._clock.now(), self._lease)
        # A message twice in one batch (a job delivered twice) is claimed once: the second caller gets nothing.
        return [rows.pop(i, None) for i in ids]

    async def _record_many(self, many: list[Sent]) -> list[bool | Exception]:
        if len(many) > 1:
            try:
                # All of them or, if anything fails, none: one round trip (`kit.db.fetchmany`).
                return list(await repository.record_sent_many(self._driver, many))
            except Exception:  # noqa: S110 - each goes on its own below (a record that did commit is refused there)
                pass
        outcomes: list[bool | Exception] = []
        for sent in many:
            try:
                outcomes.append(await repository.record(self._driver, sent))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes
