"""Request and response bodies of the tenant webhooks API (SPEC §3, seed 003 §6.5)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# What a tenant can subscribe to (seed 003 §14 plus the feedback statuses of SPEC F1/F3).
EVENT_TYPES = (
    "message.sent",
    "message.failed",
    "message.bounced",
    "message.retrying",
    "message.delivered",
    "message.complained",
    "message.suppressed",
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EndpointCreate(_Body):
    url: str = Field(max_length=2048)
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)


class EndpointUpdate(_Body):
    url: str | None = Field(default=None, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)
    # true re-enables an endpoint IEP disabled (its failure run starts again); false pauses it.
    active: bool | None = None


class EndpointOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None = None
    active: bool
    disabled_at: datetime | None = Field(default=None, alias="disabledAt")
    disabled_reason: str | None = Field(default=None, alias="disabledReason")
    consecutive_failures: int = Field(alias="consecutiveFailures")
    last_success_at: datetime | None = Field(default=None, alias="lastSuccessAt")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class EndpointCreated(EndpointOut):
    secret: str = Field(description="`whsec_…`: shown once, here; keep it to verify signatures")


class EndpointList(BaseModel):
    data: list[EndpointOut]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    event_id: uuid.UUID = Field(alias="eventId")
    webhook_id: str = Field(alias="webhookId", description="the `webhook-id` header, the same on every attempt")
    event: str
    message_id: uuid.UUID = Field(alias="messageId")
    attempt: int
    replay: bool
    success: bool
    status_code: int | None = Field(alias="statusCode")
    latency_ms: int = Field(alias="latencyMs")
    response_body: str | None = Field(alias="responseBody", description="the first 1 KB of the answer")
    error: str | None
    created_at: datetime = Field(alias="createdAt")


class DeliveryPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    data: list[DeliveryOut]
    next_cursor: str | None = Field(alias="nextCursor")
    limit: int


class Replayed(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    event_id: uuid.UUID = Field(alias="eventId")
    webhook_id: str = Field(alias="webhookId")
    status: str
