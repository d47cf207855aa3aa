"""What every provider parser takes and gives back, and the small helpers they share."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from iep.provider_events.vocabulary import ProviderEvent

# Timestamped signatures (SendGrid, Mailgun, Standard Webhooks) older or newer than this are refused.
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureInvalid(Exception):
    """The request is not provably from the provider: answered 401 and nothing is stored."""


class MalformedEvent(Exception):
    """Verified, but not a payload this provider documents: answered 400."""


@dataclass(frozen=True, slots=True)
class WebhookCredentials:
    """The secrets that prove a request came from a provider: global settings, or a tenant account's own."""

    ses_topic_arns: frozenset[str] = frozenset()
    sendgrid_public_key: str | None = None  # base64 DER (SubjectPublicKeyInfo), as SendGrid shows it
    mailgun_signing_key: str | None = None
    postmark_user: str | None = None
    postmark_password: str | None = None
    resend_secret: str | None = None  # whsec_<base64>

    def configured(self, provider: str) -> bool:
        return {
            "ses": bool(self.ses_topic_arns),
            "sendgrid": bool(self.sendgrid_public_key),
            "mailgun": bool(self.mailgun_signing_key),
            "postmark": bool(self.postmark_user and self.postmark_password),
            "resend": bool(self.resend_secret),
        }.get(provider, False)


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    body: bytes
    headers: Mapping[str, str]  # lower-cased names
    now: datetime


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified request: its events, plus what the endpoint must do before storing them."""

    events: list[ProviderEvent] = field(default_factory=list)
    nonce: str | None = None  # refused if seen before (Mailgun's token)
    subscribe_url: str | None = None  # SNS: GET it to confirm the subscription
    control: ProviderEvent | None = None  # a record kept that is not about a message (SNS confirmations)


class Parser(Protocol):
    async def __call__(self, request: WebhookRequest, creds: WebhookCredentials, ctx: Any) -> Verified: ...


def load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"the body is not JSON: {exc}") from None


def digest(value: Any) -> str:
    """A stable id for an event whose provider gives none: the same record always gives the same id."""
    return "sha256:" + hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def normalize_msg_id(value: Any) -> str | None:
    """A provider's message id as `record_sent` stored it: no spaces, no angle brackets."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip().removeprefix("<").removesuffix(">").strip()
    return text or None


def address(value: Any) -> str | None:
    """`Name <a@b>` or `a@b` → `a@b`, lower-cased (recipients are matched case-insensitively)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1 : -1]
    return text.strip().lower() or None


def iso_time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str) and value:
        text = value.strip().replace("Z", "+00:00")
        # .NET writes 7 fractional digits (Postmark); Python takes at most 6.
        head, dot, rest = text.partition(".")
        if dot:
            digits = "".join(ch for ch in rest if ch.isdigit())
            text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return fallback


def fresh(timestamp: str | None, now: datetime, tolerance: int) -> bool:
    """Whether a signed Unix timestamp is within `tolerance` seconds of now, either way."""
    try:
        seconds = int(timestamp or "")
    except ValueError:
        return False
    return abs(now.timestamp() - seconds) <= tolerance


def message_uuid(value: Any) -> uuid.UUID | None:
    """IEP's own message id as a provider echoed it back (custom args, tags, metadata), or None."""
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
