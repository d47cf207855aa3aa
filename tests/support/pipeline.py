"""Drive relay and worker by hand, so a test decides when time passes."""

from __future__ import annotations

from iep.bootstrap import Container
from iep.delivery.worker import Worker
from iep.outbox.relay import Relay
from iep.queue.postgres import PostgresQueue


async def relay_all(container: Container) -> int:
    relay = Relay(container.engine, container.database_url, container.queue(), batch_size=500)
    moved = total = await relay.relay_once()
    while moved:
        moved = await relay.relay_once()
        total += moved
    return total


async def drain(container: Container, *, rounds: int = 100) -> int:
    """Relay the outbox, then handle every job that is due now; return how many jobs were handled."""
    await relay_all(container)
    queue = container.queue()
    assert isinstance(queue, PostgresQueue)
    worker = Worker(queue, container.delivery_deps(), concurrency=8, grace_seconds=1)
    handled = 0
    for _ in range(rounds):
        jobs = await queue.claim(64)
        if not jobs:
            break
        for job in jobs:
            await worker.handle(job)
            handled += 1
    return handled
