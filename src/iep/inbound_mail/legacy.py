"""Bounces that are not RFC 3464: qmail, old Sendmail and Exim text, Yahoo, old Exchange and Gmail notices.

Which addresses failed is flufl.bounce's job (GNU Mailman's detectors, maintained, typed, Python 3.11+): it
knows some twenty formats seen in the wild and tells a warning ("still trying") from a failure. It does not
say why, so the reason is the SMTP reply found next to the address in the text, and its class (4xx / 4.x.x
against 5xx / 5.x.x) decides soft or hard; a failure with no code is hard, as those formats only say "given up".
"""

from __future__ import annotations

import bisect
import re
from email.message import Message

import structlog
from flufl.bounce import all_failures

from iep.inbound_mail._mail import (
    ENHANCED_STATUS,
    MAX_EVENTS,
    MAX_TEXT,
    PROVIDER,
    REPLY_CODE,
    Arrival,
    clean_address,
    diagnostic,
    digest,
    header,
    original_message_id,
    part_text,
    status_class,
)
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent

log = structlog.get_logger("iep.inbound_mail")
# How far past an address its explanation may be (Gmail's old notice puts three lines in between).
_WINDOW = 800
_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z-]*:\s")


def read(report: Message, arrival: Arrival) -> list[ProviderEvent]:
    message_id, reference, received_at = arrival.message_id, arrival.reference, arrival.at
    try:
        temporary, permanent = all_failures(report)
    except Exception as exc:  # a detector tripping on a malformed message must not lose the rest of the mail
        log.warning("bounce_detectors_failed", message_id=str(message_id), error=repr(exc))
        return []
    addresses: dict[str, tuple[str, bool]] = {}
    for raw_address, failed in [(a, True) for a in permanent] + [(a, False) for a in temporary - permanent]:
        address = clean_address(raw_address.decode("ascii", "replace"))
        if address and address.lower() not in addresses:
            addresses[address.lower()] = (address, failed)
    if len(addresses) > MAX_EVENTS:
        log.warning("report_truncated", message_id=str(message_id), recipients=len(addresses), kept=MAX_EVENTS)
    text = _body_text(report)
    lowered = text.lower()
    places = {key: _occurrences(lowered, key) for key in sorted(addresses)[:MAX_EVENTS]}
    starts = sorted((p, k) for k, found in places.items() for p in found)
    provider_message_id = original_message_id(report)
    events = []
    # In the order the report names them; addresses only in a header (X-Failed-Recipients) come last.
    for key in sorted(places, key=lambda k: (places[k][:1] or [len(text)], k)):
        recipient, failed = addresses[key]
        said = _reason_near(text, key, places[key], starts)
        if failed:
            event_type = EventType.BOUNCED
            bounce: BounceKind | None = BounceKind.SOFT if status_class(said) == "4" else BounceKind.HARD
            action = "failed"
        else:
            event_type, bounce, action = EventType.DEFERRED, None, "delayed"
        events.append(
            ProviderEvent(
                provider=PROVIDER,
                event_id=digest(str(message_id), key, action, reference),
                type=event_type,
                occurred_at=received_at,
                provider_message_id=provider_message_id,
                message_id=message_id,
                recipient=recipient,
                bounce=bounce,
                diagnostic=diagnostic(said),
                raw={
                    "format": "legacy",
                    "action": action,
                    "from": header(report, "From") or None,
                    "subject": header(report, "Subject") or None,
                },
            )
        )
    return events


def _body_text(report: Message) -> str:
    """The human-readable text: the text/plain leaves (a text/html one when there is nothing else)."""
    plain, html = [], []
    for part in report.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(part_text(part))
        elif kind == "text/html":
            html.append(part_text(part))
    return "\n".join(plain or html)[:MAX_TEXT]


def _occurrences(lowered: str, address: str, limit: int = 5) -> list[int]:
    found: list[int] = []
    start = lowered.find(address)
    while start >= 0 and len(found) < limit:
        found.append(start)
        start = lowered.find(address, start + len(address))
    return found


def _reason_near(text: str, address: str, places: list[int], starts: list[tuple[int, str]]) -> str:
    """The SMTP reply quoted after an address (up to the next failed address), else the words after it.

    An address can appear more than once (Exchange repeats the To: line above the failure): an occurrence
    that starts its line is read first, and one followed by a reply code wins over prose.
    """
    found: list[tuple[bool, str]] = []
    for start in places:
        after = start + len(address)
        following = bisect.bisect_right(starts, (start, address))
        while following < len(starts) and starts[following][1] == address:  # its own reply may repeat it
            following += 1
        end = min(start + _WINDOW, starts[following][0] if following < len(starts) else len(text))
        line_head = text[text.rfind("\n", 0, start) + 1 : start]
        found.append((line_head.strip(" \t<") != "", text[after:end]))
    windows = [window for _, window in sorted(found, key=lambda f: f[0])]
    for window in windows:
        if match := REPLY_CODE.search(window):
            line_end = window.find("\n", match.start())
            return window[match.start() : line_end if line_end >= 0 else len(window)]
        if match := ENHANCED_STATUS.search(window):  # qmail's "(#4.2.2)" ends the sentence it qualifies
            line_start = window.rfind("\n", 0, match.start()) + 1
            line_end = window.find("\n", match.end())
            return window[line_start : line_end if line_end >= 0 else len(window)]
    for window in windows:
        for line in window.splitlines()[1:]:  # the rest of the address's own line is a date or a bracket
            words = line.strip(" \t:>-*")
            if len(words) > 3 and not _HEADER_LINE.match(words):
                return words
    return ""
