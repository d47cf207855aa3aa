"""One report in, its events out: a DSN, an ARF complaint, a bounce in prose, or nothing (an auto-reply).

`read_report` never raises: the mail comes from anyone on the internet, and a parser crash would make the
sending server retry the same mail forever. What cannot be read is logged and ignored.
"""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from datetime import datetime
from email.message import Message

import structlog

from iep.inbound_mail import arf, dsn, legacy
from iep.inbound_mail._mail import Arrival, header, report_reference
from iep.provider_events.vocabulary import ProviderEvent

log = structlog.get_logger("iep.inbound_mail")

# Senders of delivery reports; an auto-reply comes from the person's own address.
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|maildelivery|mail\.delivery|noreply-dmarc)", re.I)
# RFC 3834's Auto-Submitted and what vacation responders set instead.
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply-From")
_AUTO_SUBJECT = re.compile(
    r"^(auto(matic|matische)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|"
    r"r[ée]ponse automatique|respuesta autom[aá]tica|absence)",
    re.I,
)


def read_report(raw: bytes, *, message_id: uuid.UUID, received_at: datetime) -> list[ProviderEvent]:
    """The events one mail to `bounces+<message_id>@…` reports; empty when it reports nothing we act on."""
    try:
        return _read(raw, message_id, received_at)
    except Exception as exc:  # robustness over completeness: see the module docstring
        log.warning("report_unreadable", message_id=str(message_id), error=repr(exc), size=len(raw))
        return []


def _read(raw: bytes, message_id: uuid.UUID, received_at: datetime) -> list[ProviderEvent]:
    # compat32: the lenient parser, which keeps going on malformed headers instead of raising on access.
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    arrival = Arrival(message_id, report_reference(report, raw), received_at)
    kind = report.get_content_type()
    report_type = (report.get_param("report-type") or "") if kind == "multipart/report" else ""
    report_type = str(report_type).lower()
    if report_type == "feedback-report" or arf.feedback_fields(report) is not None:
        return _logged(arf.read(report, arrival), "arf", message_id)
    if report_type in ("delivery-status", "global-delivery-status") or dsn.status_blocks(report) is not None:
        if dsn.recipient_blocks(report):
            return _logged(dsn.read(report, arrival), "dsn", message_id)
        log.info("dsn_without_recipients", message_id=str(message_id))  # the prose may still name them
    elif _auto_reply(report):
        log.info("report_ignored", reason="auto-reply", message_id=str(message_id))
        return []
    return _logged(legacy.read(report, arrival), "legacy", message_id)


def _auto_reply(report: Message) -> bool:
    """A vacation or "automatic reply" message: not a bounce, even though it came to the return path."""
    if header(report, "X-Failed-Recipients"):
        return False  # Exim's and Gmail's prose bounces: auto-submitted too, and a bounce
    sender = header(report, "From").rpartition("<")[2].lstrip()
    if _DAEMONS.match(sender):
        return False
    auto = header(report, "Auto-Submitted").lower()
    return (
        bool(auto and auto != "no")
        or any(report.get(h) for h in _AUTO_HEADERS)
        or header(report, "Precedence").lower() == "auto_reply"
        or bool(_AUTO_SUBJECT.match(header(report, "Subject")))
    )


def _logged(events: list[ProviderEvent], fmt: str, message_id: uuid.UUID) -> list[ProviderEvent]:
    if not events:
        log.info("report_ignored", reason=f"{fmt}: nothing to record", message_id=str(message_id))
    return events
