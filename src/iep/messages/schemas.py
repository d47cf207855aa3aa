"""The wire shapes of the messages API (seed 003 §6), validated strictly (A2)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from iep.attachments import validation as attachment_rules
from iep.kit.jsontree import MAX_DATA_DEPTH, check_tree
from iep.messages.addresses import check_display_name, domain_of, normalize_address, parse_mailbox
from iep.messages.header_safety import check_header_text, custom_header_refusal
from iep.rendering.handlebars import INLINE_CHECK_CHARS, MAX_TEMPLATED_CHARS, check_syntax
from iep.rendering.limits import MAX_DATA_BYTES
from iep.sending_domains.policy import NO_SENDERS, SenderPolicy

MAX_SUBJECT = 998
MAX_BODY_CHARS = 10 * 1024 * 1024
MAX_TAGS = 20
MAX_CUSTOM_HEADERS = 20
MAX_SCHEDULE_AHEAD = timedelta(days=30)
_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
Email = Annotated[str, AfterValidator(normalize_address)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]


# Within one batch a template text already parsed is not parsed again: a batch's items usually share their subject
# and bodies, and the parse is two thirds of an item's validation. None outside a batch (nothing is remembered).
_PARSED_IN_BATCH: ContextVar[set[str] | None] = ContextVar("parsed_in_batch", default=None)


@contextmanager
def shared_template_checks() -> Iterator[None]:
    token = _PARSED_IN_BATCH.set(set())
    try:
        yield
    finally:
        _PARSED_IN_BATCH.reset(token)


def _check_template(source: str) -> None:
    seen = _PARSED_IN_BATCH.get()
    if seen is not None and source in seen:
        return
    check_syntax(source)
    if seen is not None:
        seen.add(source)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=False)


class Sender(_Strict):
    email: str
    name: str | None = Field(default=None, max_length=255)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_address(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_display_name(value) if value else None


class AttachmentIn(_Strict):
    """One file, base64 in the request (D-4); decoded and checked here so a 422 names the exact field."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, ser_json_bytes="base64")

    filename: str
    content: Annotated[bytes, BeforeValidator(attachment_rules.decode_content)]
    content_type: str = Field(alias="contentType", max_length=100)
    content_id: str | None = Field(default=None, alias="contentId")

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str) -> str:
        return attachment_rules.check_filename(value)

    @field_validator("content")
    @classmethod
    def _size(cls, value: bytes) -> bytes:
        if len(value) > attachment_rules.MAX_FILE_BYTES:
            raise ValueError(f"is larger than {attachment_rules.MAX_FILE_BYTES // (1024 * 1024)} MB")
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("content_id")
    @classmethod
    def _content_id(cls, value: str | None) -> str | None:
        return attachment_rules.check_content_id(value)

    @model_validator(mode="after")
    def _type_matches(self) -> AttachmentIn:
        try:
            attachment_rules.check_type(self.filename, self.content_type, self.content)
        except ValueError as exc:
            raise PydanticCustomError("attachment_type", "contentType: {reason}", {"reason": str(exc)}) from None
        return self


class SendRequest(_Strict):
    """`POST /v1/messages`. Validation context: `senders` (a SenderPolicy) and `max_recipients` (int)."""

    to: list[Email] = Field(min_length=1)
    cc: list[Email] = Field(default_factory=list)
    bcc: list[Email] = Field(default_factory=list)
    sender: Sender = Field(alias="from")
    reply_to: Email | None = Field(default=None, alias="replyTo")
    # A named template from the templates folder (T2) and its data; checked against the folder at accept.
    # Declared before `subject`, whose validator needs to know whether a template gives the subject.
    template: str | None = Field(default=None, min_length=1, max_length=200)
    template_data: dict[str, Any] | None = Field(default=None, alias="templateData")
    # With a template, the subject is optional and, when given, replaces the template's (Handlebars, as inline).
    subject: str | None = Field(default=None, min_length=1, max_length=MAX_SUBJECT, validate_default=True)
    html_body: str | None = Field(default=None, alias="htmlBody", max_length=MAX_BODY_CHARS)
    text_body: str | None = Field(default=None, alias="textBody", max_length=MAX_BODY_CHARS)
    variables: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    headers: dict[str, str] = Field(default_factory=dict, max_length=MAX_CUSTOM_HEADERS)
    priority: Literal["high", "normal", "low"] = "normal"
    idempotency_key: IdempotencyKey | None = Field(default=None, alias="idempotencyKey")
    scheduled_at: datetime | None = Field(default=None, alias="scheduledAt")
    attachments: list[AttachmentIn] = Field(default_factory=list)

    @field_validator("attachments", mode="before")
    @classmethod
    def _attachment_count(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > attachment_rules.MAX_COUNT:
            raise ValueError(f"at most {attachment_rules.MAX_COUNT} attachments per message")
        return value

    @field_validator("attachments")
    @classmethod
    def _attachment_total(cls, value: list[AttachmentIn]) -> list[AttachmentIn]:
        attachment_rules.check_sizes([len(a.content) for a in value])
        ids = [a.content_id for a in value if a.content_id]
        if len(ids) != len(set(ids)):
            raise ValueError("each contentId must be unique within the message")
        return value

    @field_validator("to", "cc", "bcc", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("sender", mode="before")
    @classmethod
    def _sender_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            email, name = parse_mailbox(value)
            return {"email": email, "name": name}
        return value

    @field_validator("sender")
    @classmethod
    def _sender_domain(cls, value: Sender, info: ValidationInfo) -> Sender:
        # No policy in the context means nobody may send: a caller that forgets it fails closed.
        policy: SenderPolicy = (info.context or {}).get("senders") or NO_SENDERS
        refusal = policy.refusal(domain_of(value.email))
        if refusal is not None:
            raise PydanticCustomError(refusal.code, "{reason}", {"reason": refusal.message})
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("template") is None:
                raise ValueError("Field required (unless a template gives the subject)")
            return None
        check_header_text(value, what="subject")
        _check_template(value)
        return value

    @field_validator("variables", "template_data", "metadata", mode="before")
    @classmethod
    def _data_tree(cls, value: Any) -> Any:
        # Before pydantic walks it: a deep tree is refused without recursion, and jsonb cannot store a NUL.
        check_tree(value, max_depth=MAX_DATA_DEPTH)
        return value

    @field_validator("variables", "template_data", "metadata")
    @classmethod
    def _data_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(orjson.dumps(value)) > MAX_DATA_BYTES:
            raise ValueError(f"must be at most {MAX_DATA_BYTES} bytes as JSON")
        return value

    @field_validator("html_body", "text_body")
    @classmethod
    def _body(cls, value: str | None) -> str | None:
        if value is not None:
            if "\x00" in value:
                raise ValueError("must not contain NUL")
            if "{{" in value:
                # Templated content is parsed, so it has its own, smaller cap (docs/security.md).
                if len(value) > MAX_TEMPLATED_CHARS:
                    raise ValueError(
                        f"holds Handlebars ({{{{) and is {len(value)} characters; "
                        f"templated content is limited to {MAX_TEMPLATED_CHARS} characters per part"
                    )
                if len(value) <= INLINE_CHECK_CHARS:
                    _check_template(value)  # larger parts: service.check_large_templates, in a render process
        return value

    @property
    def unchecked_templates(self) -> dict[str, str]:
        """The templated parts too large to parse here: `service.check_large_templates` parses them."""
        parts = {"htmlBody": self.html_body, "textBody": self.text_body}
        return {k: v for k, v in parts.items() if v is not None and "{{" in v and len(v) > INLINE_CHECK_CHARS}

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not _TAG.match(tag):
                raise ValueError(f"tag {tag[:70]!r} must be 1–64 of A-Z a-z 0-9 _ . : -")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        # An allowlist (docs/security.md): provider-control and trace headers never reach a provider.
        for name, text in value.items():
            refusal = custom_header_refusal(name)
            if refusal is not None:
                raise ValueError(refusal)
            check_header_text(text, what=f"header {name}")
            if len(text) > 998:
                raise ValueError(f"header {name!r} is longer than 998 characters")
        return value

    @field_validator("scheduled_at")
    @classmethod
    def _scheduled(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must carry a timezone, e.g. 2026-03-01T09:00:00Z")
        now: datetime = (info.context or {}).get("now") or datetime.now(UTC)
        if value > now + MAX_SCHEDULE_AHEAD:
            raise ValueError("may be at most 30 days ahead")
        return value

    @model_validator(mode="after")
    def _whole(self, info: ValidationInfo) -> SendRequest:
        limit: int = (info.context or {}).get("max_recipients", 50)
        if len(self.to) + len(self.cc) + len(self.bcc) > limit:
            raise ValueError(f"at most {limit} recipients in to, cc and bcc together")
        if self.template is not None:
            if self.html_body is not None or self.text_body is not None:
                raise ValueError("htmlBody and textBody cannot be combined with template")
        elif self.html_body is None and self.text_body is None:
            raise ValueError("htmlBody or textBody is required (or a template)")
        return self

    @property
    def template_payload(self) -> dict[str, Any]:
        """The data a template renders with: `templateData`, else the variables (`props` on `/v1/send`)."""
        return dict(self.template_data if self.template_data is not None else self.variables or {})


class SendAlias(SendRequest):
    """Seeds 000-002's `POST /v1/send`: `props` names the variables."""

    variables: dict[str, Any] | None = Field(default=None, alias="props")


class Accepted(BaseModel):
    message_id: uuid.UUID = Field(serialization_alias="messageId")
    status: str
    suppressed_recipients: list[str] = Field(serialization_alias="suppressedRecipients")


class BatchRequest(_Strict):
    """`POST /v1/messages/batch` (A7): each item is a `POST /v1/messages` body, validated on its own."""

    messages: list[SendRequest] = Field(min_length=1, max_length=500)


class BatchItemOut(BaseModel):
    """One item's outcome: `queued`/`scheduled` with its messageId, or `rejected` with an RFC 9457 problem."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    index: int
    status: str
    message_id: uuid.UUID | None = Field(default=None, alias="messageId")
    suppressed_recipients: list[str] | None = Field(default=None, alias="suppressedRecipients")
    replayed: bool | None = None
    problem: dict[str, Any] | None = None


class BatchOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    data: list[BatchItemOut]
    accepted: int
    rejected: int


class EventOut(BaseModel):
    type: str
    timestamp: datetime
    payload: dict[str, Any] | None = None


class AttachmentOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    filename: str
    content_type: str = Field(alias="contentType")
    size: int
    content_id: str | None = Field(alias="contentId")


class MessageOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    message_id: uuid.UUID = Field(alias="messageId")
    status: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    sender: Sender = Field(alias="from")
    reply_to: str | None = Field(alias="replyTo")
    subject: str
    provider: str | None
    provider_message_id: str | None = Field(alias="providerMessageId")
    priority: str
    tags: list[str]
    metadata: dict[str, Any] | None
    headers: dict[str, str] | None = None
    template: str | None = None
    attempts: int
    max_attempts: int = Field(alias="maxAttempts")
    last_error: str | None = Field(alias="lastError")
    idempotency_key: str | None = Field(alias="idempotencyKey")
    scheduled_at: datetime | None = Field(alias="scheduledAt")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    sent_at: datetime | None = Field(alias="sentAt")
    # The trace this message's accept, relay and delivery spans share (OpenTelemetry, 32 hex digits).
    trace_id: str | None = Field(default=None, alias="traceId")
    attachments: list[AttachmentOut] | None = None
    events: list[EventOut] | None = None


class MessagePage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    data: list[MessageOut]
    next_cursor: str | None = Field(alias="nextCursor")
    limit: int
