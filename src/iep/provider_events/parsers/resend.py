"""Resend webhooks, signed with Standard Webhooks (svix): base64 HMAC-SHA256 over `id.timestamp.body`.

The secret is `whsec_<base64 key>`; headers are `svix-*` (Resend) or `webhook-*` (the standard's names); the
signature header lists `v1,<sig>` entries separated by spaces (https://www.standardwebhooks.com/).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from iep.provider_events.parsers.base import (
    DEFAULT_TOLERANCE_SECONDS,
    MalformedEvent,
    SignatureInvalid,
    Verified,
    WebhookCredentials,
    WebhookRequest,
    address,
    fresh,
    iso_time,
    load_json,
    message_uuid,
    normalize_msg_id,
)
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent

_TYPES = {
    "email.delivered": EventType.DELIVERED,
    "email.bounced": EventType.BOUNCED,
    "email.complained": EventType.COMPLAINED,
    "email.delivery_delayed": EventType.DEFERRED,
    "email.delivered_delayed": EventType.DEFERRED,  # the spelling one of Resend's own examples uses
    "email.opened": EventType.OPENED,
    "email.clicked": EventType.CLICKED,
    "email.failed": EventType.REJECTED,
    "email.suppressed": EventType.REJECTED,
}


def _header(request: WebhookRequest, name: str) -> str:
    return request.headers.get(f"svix-{name}") or request.headers.get(f"webhook-{name}") or ""


def verify(request: WebhookRequest, secret: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> str:
    """The message id, once a `v1` signature matches and the timestamp is fresh."""
    msg_id, timestamp, signatures = _header(request, "id"), _header(request, "timestamp"), _header(request, "signature")
    if not (msg_id and timestamp and signatures):
        raise SignatureInvalid("a Standard Webhooks id, timestamp or signature header is missing")
    if not fresh(timestamp, request.now, tolerance):
        raise SignatureInvalid("the webhook timestamp is not within 5 minutes of now")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise SignatureInvalid("RESEND_WEBHOOK_SECRET is not whsec_<base64>") from None
    signed = f"{msg_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return msg_id
    raise SignatureInvalid("no webhook signature verifies")


async def verify_and_parse(request: WebhookRequest, creds: WebhookCredentials, ctx: Any) -> Verified:
    assert creds.resend_secret is not None  # the endpoint checks `configured` first
    msg_id = verify(request, creds.resend_secret)
    body = load_json(request.body)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise MalformedEvent("a Resend webhook body is {type, created_at, data}")
    event_type = _TYPES.get(str(body.get("type")), EventType.UNKNOWN)
    bounce = None
    details = data.get("bounce") or {}
    if event_type is EventType.BOUNCED:
        # Resend sends email.bounced for permanent refusals; a bounce object saying otherwise is soft.
        bounce = BounceKind.HARD if details.get("type", "Permanent") == "Permanent" else BounceKind.SOFT
    diagnostic = details.get("message") or (data.get("click") or {}).get("link") or data.get("reason")
    recipients: list[str | None] = [a for a in (address(r) for r in _list(data.get("to"))) if a] or [None]
    return Verified(
        events=[
            ProviderEvent(
                provider="resend",
                event_id=f"{msg_id}:{recipient or '-'}",
                type=event_type,
                occurred_at=iso_time(body.get("created_at"), request.now),
                provider_message_id=normalize_msg_id(data.get("email_id")),
                message_id=message_uuid(_tag(data.get("tags"), "iep_message_id")),
                recipient=recipient,
                bounce=bounce,
                diagnostic=str(diagnostic)[:2000] if diagnostic else None,
                raw=body,
            )
            for recipient in recipients
        ]
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _tag(tags: Any, name: str) -> Any:
    """Resend echoes tags as an object; older payloads as a list of {name, value}."""
    if isinstance(tags, dict):
        return tags.get(name)
    if isinstance(tags, list):
        return next((t.get("value") for t in tags if isinstance(t, dict) and t.get("name") == name), None)
    return None
