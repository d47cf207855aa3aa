"""RFC 3464 delivery status notifications: one event per recipient block of a message/delivery-status part."""

from __future__ import annotations

from email.message import Message

import structlog

from iep.inbound_mail._mail import (
    MAX_EVENTS,
    PROVIDER,
    Arrival,
    clean_address,
    diagnostic,
    digest,
    header,
    header_blocks,
    original_message_id,
    part_text,
    status_class,
    when,
)
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent

log = structlog.get_logger("iep.inbound_mail")

STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status")
# RFC 3464 §2.3.3. `expanded` (a list exploded into its members) says nothing about our recipient.
_DELIVERED = ("delivered", "relayed")


def status_blocks(report: Message) -> list[Message] | None:
    """The header blocks of the report's delivery-status part; None when it has none."""
    for part in report.walk():
        if part.get_content_type() not in STATUS_PARTS:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and all(isinstance(p, Message) for p in payload):
            if part.get_content_type() == "message/delivery-status":
                return list(payload)
            # message/global-delivery-status is read as one embedded message: its headers are the first block.
            return header_blocks("\n\n".join(p.as_string() for p in payload if isinstance(p, Message)))
        return header_blocks(part_text(part))
    return None


def read(report: Message, arrival: Arrival) -> list[ProviderEvent]:
    """One event per recipient block that failed, was delayed or was delivered."""
    blocks = (status_blocks(report) or [])[: MAX_EVENTS + 1]  # + the per-message block
    per_message = next((b for b in blocks if b.get("Reporting-MTA") or b.get("Arrival-Date")), None)
    provider_message_id = original_message_id(report)
    events = []
    for block in blocks:
        if not (block.get("Action") or block.get("Final-Recipient") or block.get("Original-Recipient")):
            continue  # the per-message block, or noise
        event = _event(block, per_message, report, arrival, provider_message_id)
        if event is not None:
            events.append(event)
    return events


def recipient_blocks(report: Message) -> int:
    return sum(1 for b in status_blocks(report) or [] if b.get("Action") or b.get("Final-Recipient"))


def _event(
    block: Message,
    per_message: Message | None,
    report: Message,
    arrival: Arrival,
    provider_message_id: str | None,
) -> ProviderEvent | None:
    message_id = arrival.message_id
    # Servers add comments (`failed (bad destination)`) and opensmtpd says `error`.
    action = header(block, "Action").lower().split(" ", 1)[0].strip(";")
    # Original-Recipient is the address as it was sent (before aliases and forwarding), when the MTA kept it.
    recipient = None
    for name in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient"):
        recipient = clean_address(header(block, name))
        if recipient:
            break
    if recipient is None:
        log.info("dsn_block_without_recipient", message_id=str(message_id), action=action)
        return None
    status = header(block, "Status").split(" ", 1)[0]
    said = header(block, "Diagnostic-Code")
    kind, sep, rest = said.partition(";")
    if sep and " " not in kind.strip():  # `smtp; 550 5.1.1 ...`: drop the diagnostic type
        said = rest
    bounce = None
    if action.startswith(("fail", "error")):
        event_type = EventType.BOUNCED
        # A failure after temporary errors only (the MTA gave up on 4.x.x) is soft; no code at all is hard.
        bounce = BounceKind.SOFT if status_class(status, said) == "4" else BounceKind.HARD
    elif action.startswith("delayed"):
        event_type = EventType.DEFERRED
    elif action.startswith(_DELIVERED):
        event_type = EventType.DELIVERED
    else:
        log.info("dsn_action_ignored", message_id=str(message_id), action=action or None, recipient=recipient)
        return None
    stamp = header(block, "Last-Attempt-Date") or header(report, "Date")
    return ProviderEvent(
        provider=PROVIDER,
        event_id=digest(str(message_id), recipient.lower(), action, arrival.reference),
        type=event_type,
        occurred_at=when(stamp, arrival.at),
        provider_message_id=provider_message_id,
        message_id=message_id,
        recipient=recipient,
        bounce=bounce,
        # Gmail's Diagnostic-Code has the text without its code: the status says which failure it was.
        diagnostic=diagnostic(said if not status or status_class(said) else f"{status} {said}"),
        raw={
            "format": "dsn",
            "action": action,
            "status": status or None,
            "remoteMta": header(block, "Remote-MTA") or None,
            "reportingMta": header(per_message, "Reporting-MTA") if per_message is not None else None,
            "finalRecipient": header(block, "Final-Recipient") or None,
            "from": header(report, "From") or None,
            "subject": header(report, "Subject") or None,
        },
    )
