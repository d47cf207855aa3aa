"""Resend's wire shapes (https://resend.com/docs/api-reference/emails), as far as IEP maps them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Tag(_Strict):
    name: str = Field(min_length=1, max_length=256)
    value: str = Field(min_length=1, max_length=256)


class Attachment(_Strict):
    # Base64 text, or the bytes as a list of integers (what the Python SDK sends for `list(data)`).
    content: str | list[int] | None = None
    filename: str | None = None
    # A URL to fetch the file from at accept (under the tenant-webhook SSRF guard), instead of `content`.
    path: str | None = None
    content_type: str | None = None
    content_id: str | None = None
    inline_content_id: str | None = None


class SendEmail(_Strict):
    """`POST /emails`. Only these fields; `template` and `topic_id` are refused by name."""

    sender: str = Field(alias="from")
    to: str | list[str]
    subject: str
    cc: str | list[str] | None = None
    bcc: str | list[str] | None = None
    reply_to: str | list[str] | None = None
    html: str | None = None
    text: str | None = None
    headers: dict[str, str] | None = None
    attachments: list[Attachment] | None = None
    tags: list[Tag] | None = None
    scheduled_at: str | None = None


class Created(BaseModel):
    id: str


class BatchError(BaseModel):
    index: int
    message: str


class BatchCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "`errors` only with `x-batch-validation: permissive`"})

    data: list[Created]
    errors: list[BatchError] | None = None


class EmailOut(BaseModel):
    """`GET /emails/{id}`."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    object: str = "email"
    id: str
    sender: str = Field(alias="from")
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: list[str] | None
    subject: str
    html: str | None
    text: str | None
    created_at: datetime
    scheduled_at: datetime | None
    last_event: str
    tags: list[Tag]


class ResendError(BaseModel):
    """Resend's error body; the official SDKs read `name` and `message` and need application/json."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    status_code: int = Field(alias="statusCode")
    name: str
    message: str
