"""Per-tenant bounds in front of the render pools, so one tenant's runaway templates never take every process.

Two bounds, both on renders that go to a pool (the in-process `{{name}}` fast path costs nothing and is not
counted). A tenant holds at most a share of a pool's processes at once: its further renders wait behind its own,
not in the pool's queue in front of other tenants'. And the seconds its killed renders held processes for over
the last minute are capped: past that, its renders are answered `RendererUnavailable` (the message is retried
later, nothing lost) instead of taking a process only to be killed again.

A killed render keeps its tenant's place until the pool has a warm replacement: a stream of runaways would
otherwise use up the spares faster than they are started, shrinking the pool until the tenant held all of it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from iep.rendering.errors import RendererUnavailable, RenderTimeout
from iep.rendering.pool import ProcessPool

WINDOW_SECONDS = 60.0


class _Share:
    """One tenant's renders in one pool: a semaphore, and how many renders hold or wait for it."""

    __slots__ = ("holding", "semaphore", "users")

    def __init__(self, size: int) -> None:
        self.semaphore = asyncio.Semaphore(size)
        self.users = 0
        self.holding = 0


class RenderBudget:
    """`seconds` of killed renders per tenant per minute (0: no cap) and `max_share` of each pool (1: no cap)."""

    def __init__(
        self,
        *,
        seconds: float = 0.0,
        max_share: float = 1.0,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_share = max_share
        self.window = window
        self._clock = clock
        self._spent: dict[str, deque[tuple[float, float]]] = {}
        self._shares: dict[tuple[str, str], _Share] = {}
        self._releases: set[asyncio.Task[None]] = set()

    def share_of(self, pool: ProcessPool) -> int:
        """Processes of this pool one tenant may hold at once: at least one, and one short of all when it can."""
        return max(1, int(pool.spec.size * self.max_share))

    def spent(self, tenant: str) -> float:
        """Seconds the tenant's killed renders held processes for within the window."""
        entries = self._spent.get(tenant)
        if not entries:
            return 0.0
        horizon = self._clock() - self.window
        while entries and entries[0][0] <= horizon:
            entries.popleft()
        if not entries:
            del self._spent[tenant]  # a tenant that stopped costing anything is forgotten
            return 0.0
        return sum(cost for _, cost in entries)

    def charge(self, tenant: str, seconds: float) -> None:
        if self.seconds > 0:
            self._spent.setdefault(tenant, deque()).append((self._clock(), seconds))

    def check(self, tenant: str) -> None:
        """Raise `RendererUnavailable` while the tenant is over its budget."""
        if self.seconds <= 0:
            return
        spent = self.spent(tenant)
        if spent >= self.seconds:
            raise RendererUnavailable(
                f"this tenant's renders ran into the timeout for {spent:.1f} s in the last {self.window:.0f} s "
                f"(the budget is {self.seconds:g} s): rendering later"
            )

    def holding(self, tenant: str, pool: ProcessPool) -> int:
        """How many of the pool's processes the tenant's renders hold (or keep until their replacement is warm)."""
        share = self._shares.get((pool.spec.name, tenant))
        return share.holding if share is not None else 0

    @asynccontextmanager
    async def slot(self, tenant: str | None, pool: ProcessPool) -> AsyncIterator[None]:
        """Within the tenant's budget and share, for one render in `pool`; no tenant (a preview): unbounded."""
        if tenant is None:
            yield
            return
        self.check(tenant)
        if self.max_share >= 1:
            async with self._charging(tenant):
                yield
            return
        key = (pool.spec.name, tenant)
        share = self._shares.get(key)
        if share is None:
            share = self._shares[key] = _Share(self.share_of(pool))
        share.users += 1
        released = False
        try:
            try:
                async with asyncio.timeout(pool.spec.start_timeout):
                    await share.semaphore.acquire()
            except TimeoutError:
                raise RendererUnavailable(
                    f"this tenant's renders held their share of the {pool.spec.name} render processes "
                    f"for {pool.spec.start_timeout:.0f} s: rendering later"
                ) from None
            share.holding += 1
            try:
                self.check(tenant)  # renders killed while this one waited may have used the budget up
                async with self._charging(tenant):
                    yield
            except RenderTimeout:
                self._release_when_replaced(key, share, pool)
                released = True
                raise
            finally:
                if not released:
                    share.holding -= 1
                    share.semaphore.release()
        finally:
            if not released:
                self._leave(key, share)

    @asynccontextmanager
    async def _charging(self, tenant: str) -> AsyncIterator[None]:
        started = self._clock()
        try:
            yield
        except RenderTimeout:
            self.charge(tenant, self._clock() - started)
            raise

    def _release_when_replaced(self, key: tuple[str, str], share: _Share, pool: ProcessPool) -> None:
        async def release() -> None:
            try:
                await pool.replaced()
            finally:
                share.holding -= 1
                share.semaphore.release()
                self._leave(key, share)

        task = asyncio.create_task(release())
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    def _leave(self, key: tuple[str, str], share: _Share) -> None:
        share.users -= 1
        if share.users == 0 and self._shares.get(key) is share:
            del self._shares[key]  # no render of this tenant holds or waits: nothing to remember

    async def close(self) -> None:
        """Wait for places kept for killed renders to be given back (the pools are closed first)."""
        if self._releases:
            await asyncio.wait(list(self._releases))
