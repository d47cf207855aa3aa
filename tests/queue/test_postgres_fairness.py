"""The postgres queue takes due jobs round-robin across tenants; priority orders each tenant's own jobs only."""

from __future__ import annotations

import uuid
from datetime import timedelta

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.queue.port import Job
from iep.queue.postgres import PostgresQueue

FLOODER, QUIET, THIRD = (uuid.UUID(int=n) for n in (1, 2, 3))


def _queue(container: Container, clock: FakeClock, worker: str = "w") -> PostgresQueue:
    return PostgresQueue(container.engine, container.database_url, clock, worker_id=worker, lease_seconds=60)


def _jobs(tenant: uuid.UUID, n: int, priority: int, clock: FakeClock) -> list[Job]:
    return [
        Job(message_id=uuid.uuid4(), tenant_id=tenant, priority=priority, available_at=clock.now()) for _ in range(n)
    ]


async def test_a_flood_of_high_priority_jobs_does_not_starve_another_tenant(
    container: Container, clock: FakeClock
) -> None:
    queue = _queue(container, clock)
    await queue.publish(_jobs(FLOODER, 300, 0, clock))  # `priority: high`, the flooder's own choice
    clock.advance(1)
    quiet = _jobs(QUIET, 5, 1, clock)
    await queue.publish(quiet)
    await queue.publish(_jobs(THIRD, 2, 2, clock))
    first = await queue.claim(16)
    by_tenant = {t: [j for j in first if j.tenant_id == t] for t in (FLOODER, QUIET, THIRD)}
    assert len(by_tenant[QUIET]) == 5, "every due job of the quiet tenant fits in the first claim"
    assert len(by_tenant[THIRD]) == 2
    assert len(by_tenant[FLOODER]) == 9
    assert {j.message_id for j in by_tenant[QUIET]} == {j.message_id for j in quiet}


async def test_within_a_tenant_priority_and_age_decide(container: Container, clock: FakeClock) -> None:
    queue = _queue(container, clock)
    low = _jobs(FLOODER, 3, 2, clock)
    await queue.publish(low)
    clock.advance(1)
    high = _jobs(FLOODER, 2, 0, clock)
    await queue.publish(high)
    taken = await queue.claim(3)
    assert [j.message_id for j in taken] == [j.message_id for j in high] + [low[0].message_id]


async def test_two_workers_never_take_the_same_job(container: Container, clock: FakeClock) -> None:
    await _queue(container, clock).publish(_jobs(FLOODER, 40, 1, clock) + _jobs(QUIET, 40, 1, clock))
    one, two = _queue(container, clock, "one"), _queue(container, clock, "two")
    taken: list[Job] = []
    for _ in range(5):
        taken += await one.claim(10) + await two.claim(10)
    assert len(taken) == 80
    assert len({j.receipt for j in taken}) == 80
    clock.advance(timedelta(seconds=61).total_seconds())  # locks expire: taken again, by whoever asks
    assert len(await one.claim(100)) == 80


async def test_a_claimed_batch_hands_each_tenants_first_job_on_first(container: Container, clock: FakeClock) -> None:
    """Within one claim too: sorted by priority alone, the flood's `high` jobs would all start before the quiet
    tenant's `normal` one."""
    queue = _queue(container, clock)
    await queue.publish(_jobs(FLOODER, 30, 0, clock))
    clock.advance(1)
    quiet = _jobs(QUIET, 1, 1, clock)
    await queue.publish(quiet)
    taken = await queue.claim(16)
    assert [j.tenant_id for j in taken[:2]] == [FLOODER, QUIET]
    assert taken[1].message_id == quiet[0].message_id
