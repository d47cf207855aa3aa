"""A semaphore that serves its waiters by key in turn: one tenant's hundred waiting sends do not queue ahead of
another tenant's one.

`asyncio.Semaphore` wakes waiters first come, first served, so a flood that reached a shared resource (a
provider's connection pool) first holds every other tenant behind all of its own waits. Here each key has its own
line and a freed slot goes to the next key in rotation: a tenant that just arrived waits for at most one slot
per other waiting tenant.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Hashable


class FairSlots:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._free = size
        self._lines: OrderedDict[Hashable, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(line) for line in self._lines.values())

    async def acquire(self, key: Hashable) -> None:
        if self._free > 0 and not self._lines:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lines.setdefault(key, deque()).append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # the slot came as the caller gave up: it goes on to the next in line
            else:
                self._forget(key, granted)
            raise

    def release(self) -> None:
        while self._lines:
            key, line = next(iter(self._lines.items()))
            granted = line.popleft()
            if line:
                self._lines.move_to_end(key)  # this key had its turn: the others go first
            else:
                del self._lines[key]
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1

    def _forget(self, key: Hashable, granted: asyncio.Future[None]) -> None:
        line = self._lines.get(key)
        if line is None:
            return
        try:
            line.remove(granted)
        except ValueError:
            return
        if not line:
            del self._lines[key]
