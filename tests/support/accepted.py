"""What an accept commits, counted: messages, their `queued` events, and the jobs owed for them (an outbox row
for the relay, or with the postgres queue the job row itself: ADR 0009)."""

from __future__ import annotations

from sqlalchemy import func, select

from iep.bootstrap import Container
from iep.messages.models import events, messages
from iep.outbox.models import outbox
from iep.queue.models import queue_jobs
from iep.queue.port import SEND_QUEUE


async def committed(container: Container) -> tuple[int, int, int]:
    """(messages, events, jobs owed)."""
    async with container.engine.connect() as conn:
        m = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
        e = (await conn.execute(select(func.count()).select_from(events))).scalar_one()
        o = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        j = (
            await conn.execute(select(func.count()).select_from(queue_jobs).where(queue_jobs.c.queue == SEND_QUEUE))
        ).scalar_one()
    return m, e, o + j
