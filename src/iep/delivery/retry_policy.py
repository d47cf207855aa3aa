"""When to try again (D-2): the configured delays, then the dead-letter queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    delays_seconds: Sequence[int] = (60, 300, 900, 3600)

    def delay_after(self, attempt: int) -> int:
        """Seconds to wait after failed attempt number `attempt` (1-based); the last delay repeats."""
        return self.delays_seconds[min(attempt, len(self.delays_seconds)) - 1]
