"""Postmark webhooks: HTTP basic auth on the webhook URL (Postmark signs nothing); one record per request.

Bounce `Type` follows Postmark's bounce type table (https://postmarkapp.com/developer/api/bounce-api#bounce-types):
what says the address will never take mail is hard; what may pass is soft; what is not a bounce is not one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from iep.provider_events.parsers.base import (
    MalformedEvent,
    SignatureInvalid,
    Verified,
    WebhookCredentials,
    WebhookRequest,
    address,
    digest,
    iso_time,
    load_json,
    message_uuid,
    normalize_msg_id,
)
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent

_HARD = {"HardBounce", "BadEmailAddress", "DMARCPolicy"}
_SOFT = {"Transient", "SoftBounce", "DnsError", "SpamNotification", "Unknown", "VirusNotification", "Blocked"}
# Postmark refused before trying (its own inactive list, an unconfirmed sender, a template that failed).
_REJECTED = {"ManuallyDeactivated", "Unconfirmed", "SMTPApiError", "TemplateRenderingFailed"}
# Auto-replies and other mail that lands on the bounce address without saying anything about delivery.
_NOT_BOUNCES = {"Subscribe", "AutoResponder", "AddressChange", "OpenRelayTest", "ChallengeVerification", "InboundError"}


def verify(request: WebhookRequest, user: str, password: str) -> None:
    header = request.headers.get("authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise SignatureInvalid("Postmark webhooks must carry HTTP basic credentials")
    try:
        given_user, colon, given_password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SignatureInvalid("the basic credentials are not base64") from None
    # Both compared every time, each in constant time, so timing tells nothing about which one was wrong.
    user_ok = hmac.compare_digest(given_user.encode(), user.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    if not (colon and user_ok and password_ok):
        raise SignatureInvalid("the basic credentials are wrong")


async def verify_and_parse(request: WebhookRequest, creds: WebhookCredentials, ctx: Any) -> Verified:
    assert creds.postmark_user is not None
    assert creds.postmark_password is not None
    verify(request, creds.postmark_user, creds.postmark_password)
    record = load_json(request.body)
    if not isinstance(record, dict) or "RecordType" not in record:
        raise MalformedEvent("a Postmark webhook body is one JSON record with a RecordType")
    return Verified(events=[_event(record, request)])


def _classify(record: dict[str, Any]) -> tuple[EventType, BounceKind | None]:
    kind = record.get("RecordType")
    if kind == "Delivery":
        return EventType.DELIVERED, None
    if kind == "SpamComplaint":
        return EventType.COMPLAINED, None
    if kind == "Open":
        return EventType.OPENED, None
    if kind == "Click":
        return EventType.CLICKED, None
    if kind == "SubscriptionChange":
        return (EventType.UNSUBSCRIBED if record.get("SuppressSending") else EventType.UNKNOWN), None
    if kind != "Bounce":
        return EventType.UNKNOWN, None
    bounce_type = str(record.get("Type") or "")
    if bounce_type == "SpamComplaint":
        return EventType.COMPLAINED, None
    if bounce_type == "Unsubscribe":
        return EventType.UNSUBSCRIBED, None
    if bounce_type in _HARD:
        return EventType.BOUNCED, BounceKind.HARD
    if bounce_type in _REJECTED:
        return EventType.REJECTED, None
    if bounce_type in _NOT_BOUNCES:
        return EventType.UNKNOWN, None
    return EventType.BOUNCED, BounceKind.SOFT  # _SOFT, and any type Postmark adds later


def _event(record: dict[str, Any], request: WebhookRequest) -> ProviderEvent:
    event_type, bounce = _classify(record)
    when = record.get("DeliveredAt") or record.get("BouncedAt") or record.get("ReceivedAt") or record.get("ChangedAt")
    diagnostic = record.get("Details") or record.get("Description") or record.get("OriginalLink")
    return ProviderEvent(
        provider="postmark",
        # Postmark gives no event id; the same record re-sent gives the same digest.
        event_id=digest(record),
        type=event_type,
        occurred_at=iso_time(when, request.now),
        provider_message_id=normalize_msg_id(record.get("MessageID")),
        message_id=message_uuid((record.get("Metadata") or {}).get("iep_message_id")),
        recipient=address(record.get("Recipient") or record.get("Email")),
        bounce=bounce,
        diagnostic=str(diagnostic)[:2000] if diagnostic else None,
        raw=record,
    )
