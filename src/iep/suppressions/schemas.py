"""The wire shapes of `/v1/suppressions` (SPEC.md §3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from iep.messages.schemas import Email


class SuppressionIn(BaseModel):
    """`POST /v1/suppressions`. Validation context: `now` (datetime), for the expiry."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    email: Email
    # Only `manual` by hand: `hard_bounce` and `complaint` are what feedback from providers says.
    reason: Literal["manual"] = "manual"
    expires_at: datetime | None = Field(default=None, alias="expiresAt")

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # a time without an offset is read as UTC
            value = value.replace(tzinfo=UTC)
        now: datetime | None = (info.context or {}).get("now")
        if now is not None and value <= now:
            raise ValueError("must be in the future")
        return value


class SuppressionOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    email: str
    reason: str
    source: str
    message_id: uuid.UUID | None = Field(alias="messageId")
    diagnostic: str | None
    expires_at: datetime | None = Field(alias="expiresAt")
    # False once `expiresAt` has passed: the entry is kept for the record and suppresses nothing.
    active: bool
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class SuppressionPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    data: list[SuppressionOut]
    next_cursor: str | None = Field(alias="nextCursor")
    limit: int
