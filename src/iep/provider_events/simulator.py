"""Simulated outcomes for the dev inbox: mail to the documented simulator addresses comes back delivered,
bounced or complained about, through the same `ingest` as real provider events, so `make dev` shows the whole
feedback loop — statuses, suppression and signed tenant webhooks — with one curl each.

    delivered@simulator.iep.dev     → delivered
    bounced@simulator.iep.dev       → bounced (hard; SUPPRESS_AFTER_HARD_BOUNCES of them suppress the address)
    soft-bounced@simulator.iep.dev  → a soft bounce: recorded, changes no status
    complained@simulator.iep.dev    → complained (suppressed at once)

A suffix after `+` is kept (`bounced+1@…` bounces too), so one outcome can be tried with several addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.provider_events import repository
from iep.provider_events.service import ingest
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent

SIMULATOR_DOMAIN = "simulator.iep.dev"
OUTCOMES: dict[str, tuple[EventType, BounceKind | None, str]] = {
    "delivered": (EventType.DELIVERED, None, "250 2.0.0 simulated: accepted by the receiving server"),
    "bounced": (EventType.BOUNCED, BounceKind.HARD, "550 5.1.1 simulated: the mailbox does not exist"),
    "soft-bounced": (EventType.BOUNCED, BounceKind.SOFT, "452 4.2.2 simulated: the mailbox is full"),
    "complained": (EventType.COMPLAINED, None, "simulated: the recipient marked the message as spam"),
}
# The send is recorded after the provider answers: the outcome waits for that record, as a real one would.
_WAIT_FOR_SENT_SECONDS = 10.0

log = structlog.get_logger("iep.simulator")


def simulated_events(
    message_id: uuid.UUID, provider_message_id: str, recipients: Sequence[str], now: datetime
) -> list[ProviderEvent]:
    events = []
    for recipient in recipients:
        local, _, domain = recipient.lower().rpartition("@")
        outcome = OUTCOMES.get(local.partition("+")[0]) if domain == SIMULATOR_DOMAIN else None
        if outcome is None:
            continue
        type_, bounce, diagnostic = outcome
        events.append(
            ProviderEvent(
                provider="devinbox",
                event_id=f"{message_id}:{recipient.lower()}:{type_.value}",
                type=type_,
                occurred_at=now,
                provider_message_id=provider_message_id,
                message_id=message_id,
                recipient=recipient.lower(),
                bounce=bounce,
                diagnostic=diagnostic,
                raw={"simulated": True, "recipient": recipient},
            )
        )
    return events


class Simulator:
    """Reports the simulated outcomes of a dev inbox send once the send is recorded."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def sent(self, message_id: uuid.UUID, provider_message_id: str, recipients: Sequence[str]) -> None:
        events = simulated_events(message_id, provider_message_id, recipients, self._clock.now())
        if events:
            task = asyncio.create_task(self._report(message_id, events))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _report(self, message_id: uuid.UUID, events: list[ProviderEvent]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _WAIT_FOR_SENT_SECONDS
        while loop.time() < deadline:
            async with self._engine.connect() as conn:
                if await repository.message_status(conn, message_id) != "processing":
                    break
            await asyncio.sleep(0.1)
        try:
            result = await ingest(self._engine, events)
        except Exception:  # a dev convenience must never take the worker down with it
            log.exception("simulated_outcome_failed", message_id=str(message_id))
            return
        log.info("simulated_outcome", message_id=str(message_id), **result.as_json())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
