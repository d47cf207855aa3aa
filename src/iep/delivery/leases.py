"""Fenced leases (D6): a claim stays this worker's while its send is in progress, and a claim it lost never sends.

A send can wait longer than the lease (a slow server, a rate limit, a busy render pool). Without renewal another
worker would take the message over mid-send and send it again. So every claim in progress is registered here,
and one loop renews all of them in a single statement well before they run out. A claim that could not be
renewed (another worker took it, or the database was unreachable until the lease ran out) is lost: the provider
checks `still_held` once it holds a connection, right before the send's first byte (the wait for a connection
can outlast the lease too), and `record_sent` checks the claim's fence (its attempt number) in the database, so
a late record of a lost claim is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.delivery import repository
from iep.kit.clock import Clock

log = structlog.get_logger("iep.delivery.leases")


@dataclass(slots=True)
class _Claim:
    fence: int
    until: datetime
    lost: bool = False


class LeaseKeeper:
    def __init__(
        self, engine: AsyncEngine, clock: Clock, *, owner: str, lease: timedelta, tick_seconds: float | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._owner = owner
        self._lease = lease
        # Renew once a third of the lease is left; look that often, at most every second.
        self._margin = lease / 3
        self._tick = tick_seconds if tick_seconds is not None else min(1.0, lease.total_seconds() / 6)
        self._claims: dict[uuid.UUID, _Claim] = {}
        self._loop: asyncio.Task[None] | None = None

    def hold(self, message_id: uuid.UUID, fence: int, until: datetime) -> None:
        self._claims[message_id] = _Claim(fence, until)
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._renew_while_held())

    def release(self, message_id: uuid.UUID) -> None:
        self._claims.pop(message_id, None)

    def still_held(self, message_id: uuid.UUID) -> bool:
        """True while the claim is renewed and more than the margin of its lease is left."""
        claim = self._claims.get(message_id)
        return claim is not None and not claim.lost and self._clock.now() + self._margin / 2 < claim.until

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _renew_while_held(self) -> None:
        while self._claims:
            await asyncio.sleep(self._tick)
            with contextlib.suppress(OperationalError, DBAPIError, OSError):
                await self.renew_due()

    async def renew_due(self) -> None:
        """Renew every held claim that has less than the margin left; mark the ones that could not be."""
        now = self._clock.now()
        due = [(mid, c) for mid, c in self._claims.items() if not c.lost and c.until - now <= self._margin]
        if not due:
            return
        until = now + self._lease
        async with self._engine.connect() as pooled:
            conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
            renewed = await repository.renew_leases(conn, [(mid, c.fence) for mid, c in due], self._owner, until)
        for mid, claim in due:
            if mid in renewed:
                claim.until = until
            else:
                claim.lost = True
                log.warning("lease_lost", message_id=str(mid), fence=claim.fence)
