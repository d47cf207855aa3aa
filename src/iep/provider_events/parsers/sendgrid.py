"""SendGrid's Signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + raw body, key from the console.

https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

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
    load_json,
    message_uuid,
)
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
_TYPES = {
    "delivered": EventType.DELIVERED,
    "bounce": EventType.BOUNCED,
    "deferred": EventType.DEFERRED,
    "dropped": EventType.REJECTED,
    "spamreport": EventType.COMPLAINED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "unsubscribe": EventType.UNSUBSCRIBED,
    "group_unsubscribe": EventType.UNSUBSCRIBED,
}


def public_key(encoded: str) -> ec.EllipticCurvePublicKey:
    # cryptography's native part (~8 MB resident) is loaded by the first signed event, not by the API's start.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise SignatureInvalid("SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureInvalid("SENDGRID_WEBHOOK_PUBLIC_KEY is not an ECDSA key")
    return key


def verify(request: WebhookRequest, encoded_key: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> None:
    from cryptography.exceptions import InvalidSignature  # imported here as in `public_key`
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature, timestamp = request.headers.get(SIGNATURE), request.headers.get(TIMESTAMP)
    if not signature or not timestamp:
        raise SignatureInvalid("the SendGrid signature or timestamp header is missing")
    if not fresh(timestamp, request.now, tolerance):
        raise SignatureInvalid("the SendGrid timestamp is not within 5 minutes of now")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except binascii.Error:
        raise SignatureInvalid("the SendGrid signature is not base64") from None
    try:
        public_key(encoded_key).verify(raw_signature, timestamp.encode() + request.body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureInvalid("the SendGrid signature does not verify") from None


async def verify_and_parse(request: WebhookRequest, creds: WebhookCredentials, ctx: Any) -> Verified:
    assert creds.sendgrid_public_key is not None  # the endpoint checks `configured` first
    verify(request, creds.sendgrid_public_key)
    batch = load_json(request.body)
    if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
        raise MalformedEvent("a SendGrid event webhook body is a JSON array of events")
    return Verified(events=[_event(item, request) for item in batch])


def _event(item: dict[str, Any], request: WebhookRequest) -> ProviderEvent:
    name = str(item.get("event") or "")
    event_type = _TYPES.get(name, EventType.UNKNOWN)
    bounce = None
    if event_type is EventType.BOUNCED:
        # `bounce_classification` aside, SendGrid's `type` says it: a `blocked` bounce may pass, a `bounce` won't.
        bounce = BounceKind.SOFT if item.get("type") == "blocked" else BounceKind.HARD
    sg_message_id = str(item.get("sg_message_id") or "")
    diagnostic = item.get("reason") or item.get("response") or item.get("url")
    return ProviderEvent(
        provider="sendgrid",
        event_id=str(item.get("sg_event_id") or digest(item)),
        type=event_type,
        occurred_at=iso_time(item.get("timestamp"), request.now),
        # The id stored at send is X-Message-Id; events carry it with SendGrid's suffix after the first '.'.
        provider_message_id=sg_message_id.split(".", 1)[0] or None,
        message_id=message_uuid(item.get("iep_message_id")),
        recipient=address(item.get("email")),
        bounce=bounce,
        diagnostic=str(diagnostic)[:2000] if diagnostic else None,
        raw=item,
    )
