"""A tenant's limits as stored in `tenants.settings` (S3, S4), and the calendar windows they count in (UTC).

Windows are fixed and aligned on the UTC calendar: the minute, hour, day and month a message is accepted in. A
tenant may use up one window at its very end and the next at its very start; `burst` (a token bucket) is what
smooths that edge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

# The names in tenants.settings (SPEC §3); 0 or absent = unlimited.
SETTING_NAMES = ("max_per_minute", "max_per_hour", "max_per_day", "burst", "monthly_quota")
# Largest value accepted: counters are 64-bit, and a larger limit is no limit in practice.
MAX_VALUE = 2**31 - 1
# Bumped whenever `monthly_quota` changes, so the shared quota counter is counted again from the database.
QUOTA_VERSION = "limits_quota_version"


class Kind(StrEnum):
    """What refused a message; the `kind` label of iep_rate_limit_hits_total."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    BURST = "burst"
    QUOTA = "quota"


WINDOW_KINDS = (Kind.MINUTE, Kind.HOUR, Kind.DAY)


@dataclass(frozen=True, slots=True)
class TenantLimits:
    per_minute: int = 0
    per_hour: int = 0
    per_day: int = 0
    burst: int = 0
    monthly_quota: int = 0
    quota_version: int = 0

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> TenantLimits:
        return cls(
            per_minute=_count(settings.get("max_per_minute")),
            per_hour=_count(settings.get("max_per_hour")),
            per_day=_count(settings.get("max_per_day")),
            burst=_count(settings.get("burst")),
            monthly_quota=_count(settings.get("monthly_quota")),
            quota_version=_count(settings.get(QUOTA_VERSION)),
        )

    @property
    def any(self) -> bool:
        return bool(self.per_minute or self.per_hour or self.per_day or self.burst or self.monthly_quota)

    def window_limit(self, kind: Kind) -> int:
        return {Kind.MINUTE: self.per_minute, Kind.HOUR: self.per_hour, Kind.DAY: self.per_day}[kind]

    @property
    def refill_per_second(self) -> float:
        """The token bucket refills at the tightest steady rate the tenant has; with none, `burst` per second."""
        for limit, seconds in ((self.per_minute, 60), (self.per_hour, 3600), (self.per_day, 86400)):
            if limit:
                return limit / seconds
        return float(self.burst)


def _count(value: Any) -> int:
    # Values are checked when written (`validate`); anything else found here counts as unlimited rather than
    # failing every send of the tenant.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return min(value, MAX_VALUE)


def validate(changes: Mapping[str, Any]) -> dict[str, int]:
    """The changes as integers, or ValueError naming the first bad one."""
    clean: dict[str, int] = {}
    for name, value in changes.items():
        if name not in SETTING_NAMES:
            raise ValueError(f"{name}: unknown limit; known: {', '.join(SETTING_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
            raise ValueError(f"{name}: must be an integer from 0 (unlimited) to {MAX_VALUE}, got {value!r}")
        clean[name] = value
    return clean


def window(kind: Kind | str, now: datetime) -> tuple[datetime, datetime]:
    """The start and end of the calendar window (minute, hour, day or month) that holds `now`."""
    now = now.astimezone(UTC)
    if kind == Kind.MINUTE:
        start = now.replace(second=0, microsecond=0)
        return start, start + timedelta(minutes=1)
    if kind == Kind.HOUR:
        start = now.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if kind == Kind.DAY:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


def month_window(now: datetime) -> tuple[datetime, datetime]:
    return window("month", now)


def seconds_until(end: datetime, now: datetime) -> int:
    """Whole seconds from `now` to `end`, at least 1: what Retry-After and RateLimit-Reset carry."""
    return max(1, math.ceil((end - now).total_seconds()))
