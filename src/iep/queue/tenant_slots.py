"""One consumer's share per tenant: at most `cap` jobs of a tenant in flight, so one tenant's flood cannot take
every slot; a job whose tenant is at its cap waits in a short local list, or goes back to the broker when the
list is full (the broker, not process memory, holds a backlog)."""

from __future__ import annotations

import uuid
from collections import Counter, deque

from iep.queue.port import Job


def parking_room(concurrency: int, cap: int) -> int:
    """Jobs a consumer may hold parked beside its `concurrency` in flight: what the broker must let it prefetch."""
    return concurrency if 0 < cap < concurrency else 0


class TenantSlots:
    def __init__(self, cap: int, *, parking: int) -> None:
        self._cap = cap
        self._parking = parking
        self._taken: Counter[uuid.UUID] = Counter()
        self._parked: dict[uuid.UUID, deque[Job]] = {}
        self.parked = 0

    def take(self, tenant: uuid.UUID) -> bool:
        """Count one slot of the tenant if it has one free."""
        if self._taken[tenant] >= self._cap:
            return False
        self._taken[tenant] += 1
        return True

    def park(self, job: Job) -> bool:
        """Keep a job of a tenant at its cap until one of its slots frees up; False when the list is full."""
        if self.parked >= self._parking:
            return False
        self._parked.setdefault(job.tenant_id, deque()).append(job)
        self.parked += 1
        return True

    def finished(self, tenant: uuid.UUID, *, hand_on: bool) -> Job | None:
        """A job of the tenant ended: its slot goes to the tenant's next parked job (returned), or is freed.

        A tenant with parked jobs is always at its cap (it parked them because it was, and keeps its slots by
        handing them on), so its parked jobs never wait while it has a free slot.
        """
        waiting = self._parked.get(tenant)
        if hand_on and waiting:
            job = waiting.popleft()
            if not waiting:
                del self._parked[tenant]
            self.parked -= 1
            return job
        self._taken[tenant] -= 1
        if self._taken[tenant] <= 0:
            del self._taken[tenant]
        return None

    def unpark_all(self) -> list[Job]:
        """Every parked job (to hand back on stop)."""
        jobs = [job for waiting in self._parked.values() for job in waiting]
        self._parked.clear()
        self.parked = 0
        return jobs
