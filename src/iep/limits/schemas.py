"""The wire shape of `GET /v1/usage` (SPEC.md §3)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WindowUsage(BaseModel):
    """Messages accepted in the current calendar window (UTC) beside its limit; `limit` null = unlimited."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    used: int
    limit: int | None
    remaining: int | None
    resets_at: datetime = Field(alias="resetsAt")


class BurstUsage(BaseModel):
    """The token bucket: `available` messages may be sent at once now; it refills at `refillPerSecond`."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    limit: int | None
    available: float | None
    refill_per_second: float | None = Field(alias="refillPerSecond")


class Usage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant: str
    minute: WindowUsage
    hour: WindowUsage
    day: WindowUsage
    month: WindowUsage
    burst: BurstUsage
