"""RFC 5965 abuse reports (feedback loops: Microsoft JMRP, Yahoo CFL, Amazon SES forwarding): complaints."""

from __future__ import annotations

from email.message import Message

import structlog

from iep.inbound_mail._mail import (
    PROVIDER,
    Arrival,
    clean_address,
    diagnostic,
    digest,
    first_address,
    header,
    header_blocks,
    original_headers,
    original_message_id,
    part_text,
    when,
)
from iep.provider_events.vocabulary import EventType, ProviderEvent

log = structlog.get_logger("iep.inbound_mail")

# RFC 5965 §7.3's types that mean "the recipient did not want this". `not-spam` (RFC 6430) is the opposite
# and `auth-failure` (RFC 6591) is a DMARC/SPF report about the sending domain, not about a recipient.
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})


def feedback_fields(report: Message) -> Message | None:
    for part in report.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]  # the parser reads message/* as an embedded message: the fields are its headers
        blocks = header_blocks(part_text(part))
        return blocks[0] if blocks else None
    return None


def read(report: Message, arrival: Arrival) -> list[ProviderEvent]:
    message_id, reference, received_at = arrival.message_id, arrival.reference, arrival.at
    fields = feedback_fields(report)
    if fields is None:
        return []
    feedback_type = header(fields, "Feedback-Type").lower()
    if feedback_type not in COMPLAINT_TYPES:
        log.info("arf_ignored", message_id=str(message_id), feedback_type=feedback_type or None)
        return []
    original = original_headers(report)
    recipient = clean_address(header(fields, "Original-Rcpt-To"))
    if recipient is None and original is not None:
        # Hotmail's JMRP names the recipient in a header of its own on the returned copy; others leave To.
        recipient = clean_address(header(original, "X-HmXmrOriginalRecipient")) or first_address(header(original, "To"))
    user_agent = header(fields, "User-Agent")
    iep_id = header(original, "X-IEP-Message-Id") if original is not None else ""
    said = f"{feedback_type} report" + (f" from {user_agent}" if user_agent else "")
    return [
        ProviderEvent(
            provider=PROVIDER,
            event_id=digest(str(message_id), (recipient or "").lower(), "complained", reference),
            type=EventType.COMPLAINED,
            occurred_at=when(header(report, "Date"), received_at),
            provider_message_id=original_message_id(report),
            message_id=message_id,
            recipient=recipient,
            diagnostic=diagnostic(said),
            raw={
                "format": "arf",
                "feedbackType": feedback_type,
                "userAgent": user_agent or None,
                "sourceIp": header(fields, "Source-IP") or None,
                "reportedDomain": header(fields, "Reported-Domain") or None,
                "originalIepMessageId": iep_id or None,
                "from": header(report, "From") or None,
            },
        )
    ]
