"""Where the SMTP server hands what it read: any async callable taking a batch of events.

The server answers 250 only after the sink returned, and 451 when it raised, so the remote server keeps the
report and tries again: a sink must have stored the events (idempotently, on `event_id`) when it returns.
The role's sink is `StoringSink`: the same `ingest` as provider webhooks (store once, move each recipient's
status forward only, suppress, tell the tenant); `LoggingSink` shows what the server makes of a report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.provider_events.service import ingest
from iep.provider_events.vocabulary import ProviderEvent

EventSink = Callable[[Sequence[ProviderEvent]], Awaitable[None]]

log = structlog.get_logger("iep.inbound_mail")


class LoggingSink:
    """Logs each event and stores nothing: a report accepted through it is acknowledged and not kept."""

    async def __call__(self, events: Sequence[ProviderEvent]) -> None:
        for event in events:
            log.info(
                "provider_event",
                provider=event.provider,
                event_id=event.event_id,
                type=event.type.value,
                bounce=event.bounce.value if event.bounce else None,
                message_id=str(event.message_id) if event.message_id else None,
                recipient=event.recipient,
                diagnostic=event.diagnostic,
            )


class StoringSink:
    """Stores and applies a report's events in one transaction, as `POST /webhooks/{provider}` does."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, events: Sequence[ProviderEvent]) -> None:
        result = await ingest(self._engine, events)
        log.info("report_stored", **result.as_json())
