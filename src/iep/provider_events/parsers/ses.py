"""Amazon SES through SNS: the envelope is verified (sns.py), then the SES record inside is mapped.

Both shapes are read: event publishing (`eventType`, configuration sets) and identity notifications
(`notificationType`). bounceType Permanent → hard; Transient and Undetermined → soft.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from iep.provider_events.parsers import sns
from iep.provider_events.parsers.base import (
    MalformedEvent,
    SignatureInvalid,
    Verified,
    WebhookCredentials,
    WebhookRequest,
    address,
    iso_time,
    message_uuid,
    normalize_msg_id,
)
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent


@dataclass(frozen=True, slots=True)
class SesContext:
    certs: sns.CertCache


_TYPES = {
    "Delivery": EventType.DELIVERED,
    "Bounce": EventType.BOUNCED,
    "Complaint": EventType.COMPLAINED,
    "DeliveryDelay": EventType.DEFERRED,
    "Reject": EventType.REJECTED,
    "Open": EventType.OPENED,
    "Click": EventType.CLICKED,
}


async def verify_and_parse(request: WebhookRequest, creds: WebhookCredentials, ctx: Any) -> Verified:
    try:
        envelope = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise SignatureInvalid("the body is not an SNS message") from None
    if not isinstance(envelope, dict):
        raise SignatureInvalid("the body is not an SNS message")
    await sns.verify(envelope, ctx.certs, creds.ses_topic_arns, request.now)
    kind = envelope["Type"]
    sns_id = str(envelope.get("MessageId"))
    if kind != "Notification":
        record = ProviderEvent(
            provider="ses",
            event_id=f"sns:{sns_id}",
            type=EventType.UNKNOWN,
            occurred_at=iso_time(envelope.get("Timestamp"), request.now),
            raw={"sns": {k: v for k, v in envelope.items() if k != "Signature"}},
        )
        url = str(envelope.get("SubscribeURL")) if kind == "SubscriptionConfirmation" else None
        return Verified(subscribe_url=url, control=record)
    try:
        message = orjson.loads(str(envelope.get("Message")))
    except orjson.JSONDecodeError:
        raise MalformedEvent("the SNS Message is not an SES record") from None
    if not isinstance(message, dict):
        raise MalformedEvent("the SNS Message is not an SES record")
    return Verified(events=list(_events(message, sns_id, request)))


def _events(message: dict[str, Any], sns_id: str, request: WebhookRequest) -> list[ProviderEvent]:
    kind = str(message.get("eventType") or message.get("notificationType") or "")
    mail = message.get("mail") or {}
    if not isinstance(mail, dict):
        raise MalformedEvent("the SES record has no mail object")
    event_type = _TYPES.get(kind, EventType.UNKNOWN)
    provider_id = normalize_msg_id(mail.get("messageId"))
    ours = message_uuid((mail.get("tags") or {}).get("iep_message_id"))
    destination = [a for a in (address(d) for d in mail.get("destination") or []) if a]
    detail = message.get(kind[:1].lower() + kind[1:]) or {}
    when = iso_time(detail.get("timestamp") or mail.get("timestamp"), request.now)
    bounce: BounceKind | None = None
    diagnostic: str | None = None
    # (recipient, diagnostic) pairs: the per-recipient lists where SES gives them, else the destination.
    recipients: list[tuple[str | None, str | None]]
    if kind == "Delivery":
        diagnostic = detail.get("smtpResponse")
        recipients = [(address(r), diagnostic) for r in detail.get("recipients") or []]
    elif kind == "Bounce":
        bounce = BounceKind.HARD if detail.get("bounceType") == "Permanent" else BounceKind.SOFT
        recipients = [
            (address(r.get("emailAddress")), r.get("diagnosticCode") or r.get("status"))
            for r in detail.get("bouncedRecipients") or []
        ]
    elif kind == "Complaint":
        feedback = detail.get("complaintFeedbackType")
        recipients = [(address(r.get("emailAddress")), feedback) for r in detail.get("complainedRecipients") or []]
    elif kind == "DeliveryDelay":
        recipients = [
            (address(r.get("emailAddress")), r.get("diagnosticCode") or detail.get("delayType"))
            for r in detail.get("delayedRecipients") or []
        ]
    else:
        # Open, Click, Reject, Send...: about the message; name the recipient when there is only one.
        diagnostic = detail.get("reason") or detail.get("link")
        recipients = [(destination[0] if len(destination) == 1 else None, diagnostic)]
    return [
        ProviderEvent(
            provider="ses",
            event_id=f"{sns_id}:{recipient or '-'}",
            type=event_type,
            occurred_at=when,
            provider_message_id=provider_id,
            message_id=ours,
            recipient=recipient,
            bounce=bounce,
            diagnostic=(str(diag)[:2000] if diag else None),
            raw={"snsMessageId": sns_id, "ses": message},
        )
        for recipient, diag in (recipients or [(None, None)])
    ]
