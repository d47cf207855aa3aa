"""Mailgun webhooks: `signature.signature` = hex HMAC-SHA256(signing key, timestamp + token), in the body.

The body is not signed, only (timestamp, token): a token is refused the second time, and a timestamp more than
5 minutes from now is refused, so a captured request cannot be replayed or reused with another body.
https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from iep.provider_events.parsers.base import (
    DEFAULT_TOLERANCE_SECONDS,
    MalformedEvent,
    SignatureInvalid,
    Verified,
    WebhookCredentials,
    WebhookRequest,
    address,
    digest,
    fresh,
    iso_time,
    message_uuid,
    normalize_msg_id,
)
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent

_TYPES = {
    "delivered": EventType.DELIVERED,
    "failed": EventType.BOUNCED,
    "rejected": EventType.REJECTED,
    "complained": EventType.COMPLAINED,
    "opened": EventType.OPENED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
}


def verify(body: Any, signing_key: str, request: WebhookRequest, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> str:
    """The token, once the signature verifies and the timestamp is fresh."""
    signature = body.get("signature") if isinstance(body, dict) else None
    if not isinstance(signature, dict):
        raise SignatureInvalid("the Mailgun body has no signature object")
    timestamp, token, given = (str(signature.get(k) or "") for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and given):
        raise SignatureInvalid("the Mailgun signature is incomplete")
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise SignatureInvalid("the Mailgun signature does not verify")
    if not fresh(timestamp, request.now, tolerance):
        raise SignatureInvalid("the Mailgun timestamp is not within 5 minutes of now")
    return token


async def verify_and_parse(request: WebhookRequest, creds: WebhookCredentials, ctx: Any) -> Verified:
    assert creds.mailgun_signing_key is not None  # the endpoint checks `configured` first
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise SignatureInvalid("the Mailgun body is not JSON") from None
    token = verify(body, creds.mailgun_signing_key, request)
    data = body.get("event-data")
    if not isinstance(data, dict):
        raise MalformedEvent("the Mailgun body has no event-data")
    return Verified(events=[_event(data, request)], nonce=token)


def _event(data: dict[str, Any], request: WebhookRequest) -> ProviderEvent:
    event_type = _TYPES.get(str(data.get("event") or ""), EventType.UNKNOWN)
    bounce = None
    if event_type is EventType.BOUNCED:
        bounce = BounceKind.HARD if data.get("severity") == "permanent" else BounceKind.SOFT
    status = data.get("delivery-status") or {}
    parts = [str(status.get("code") or ""), str(status.get("message") or status.get("description") or "")]
    diagnostic = " ".join(p for p in parts if p) or data.get("reason") or data.get("url")
    headers = (data.get("message") or {}).get("headers") or {}
    return ProviderEvent(
        provider="mailgun",
        event_id=str(data.get("id") or digest(data)),
        type=event_type,
        occurred_at=iso_time(data.get("timestamp"), request.now),
        provider_message_id=normalize_msg_id(headers.get("message-id")),
        message_id=message_uuid((data.get("user-variables") or {}).get("iep-message-id")),
        recipient=address(data.get("recipient")),
        bounce=bounce,
        diagnostic=str(diagnostic)[:2000] if diagnostic else None,
        raw=data,
    )
