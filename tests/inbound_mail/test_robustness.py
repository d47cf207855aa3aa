"""Anyone on the internet can write to the bounce mailbox: no mail makes the parser raise or the server fail.

Worst case a mail is ignored with a log line and answered 250, so the sender does not retry it forever.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from iep.inbound_mail.reports import read_report
from tests.inbound_mail.conftest import CORPUS, Inbound, verp

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
rng = random.Random(20261201)

DSN_WITHOUT_RECIPIENTS = b"""From: MAILER-DAEMON@mx.example.net
To: bounces+x@bounces.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Something went wrong, sorry.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Tue, 1 Dec 2026 09:00:00 +0000

--b--
"""

NASTY: dict[str, bytes] = {
    "empty": b"",
    "random bytes": bytes(rng.randrange(256) for _ in range(20_000)),
    "only headers": b"From: x\r\nSubject: y\r\n",
    "no header/body split": b"this is not a mail at all\r\njust lines\r\n" * 50,
    "huge header": b"Subject: " + b"A" * 500_000 + b"\r\nFrom: MAILER-DAEMON@x\r\n\r\nbody\r\n",
    "huge folded header": (
        b"From: MAILER-DAEMON@x\r\nX-Failed-Recipients: " + b"a@b.example,\r\n " * 40_000 + b"c@d.example\r\n\r\nx\r\n"
    ),
    "many headers": b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + b"\r\nbody\r\n",
    "non-UTF-8 everywhere": (
        b"From: \xff\xfe <MAILER-DAEMON@x.example>\r\nSubject: \xe9\xe8\xc0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n\xff\xfe\xfd <\xe9@x.example>: 550 5.1.1 \xc3\x28\r\n"
    ),
    "unknown charset": b"From: MAILER-DAEMON@x\r\nContent-Type: text/plain; charset=x-made-up\r\n\r\nhello\r\n",
    "broken boundary": b"Content-Type: multipart/report; report-type=delivery-status; boundary=\r\n\r\n--\r\n--\r\n",
    "delivery-status with garbage": (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=z\r\n\r\n--z\r\n"
        b"Content-Type: message/delivery-status\r\n\r\n\x00\x01\x02:::\r\n\r\nAction: failed\r\n"
        b"Final-Recipient: rfc822; not an address\r\nStatus: 9.9.9.9\r\n\r\n--z--\r\n"
    ),
    "feedback-report without fields": (
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=z\r\n\r\n--z\r\n"
        b"Content-Type: message/feedback-report\r\n\r\n--z--\r\n"
    ),
    "deeply nested multiparts": (
        b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(400))
        + b"Content-Type: text/plain\r\n\r\nbottom\r\n"
    ),
    "base64 that is not": (
        b"From: MAILER-DAEMON@x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!%%%\r\n"
    ),
    "dsn without per-recipient part": DSN_WITHOUT_RECIPIENTS,
    "truncated corpus report": (CORPUS / "postfix-multi-recipient.eml").read_bytes()[:1500],
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_nasty_mail_never_raises(name: str) -> None:
    events = read_report(NASTY[name], message_id=uuid.uuid4(), received_at=NOW)
    for event in events:  # whatever was salvaged is well-formed
        assert event.provider == "smtp"
        assert event.recipient is None or "@" in event.recipient


def test_a_dsn_with_no_recipient_block_is_ignored_with_a_log_line() -> None:
    with capture_logs() as logs:
        events = read_report(DSN_WITHOUT_RECIPIENTS, message_id=uuid.uuid4(), received_at=NOW)
    assert events == []
    assert {entry["event"] for entry in logs} >= {"dsn_without_recipients", "report_ignored"}


def test_a_parser_crash_is_caught_and_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    import iep.inbound_mail.reports as reports

    def explode(*_: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(reports.email, "message_from_bytes", explode)
    with capture_logs() as logs:
        assert read_report(b"From: x\r\n\r\ny", message_id=uuid.uuid4(), received_at=NOW) == []
    assert [entry["event"] for entry in logs] == ["report_unreadable"]


def test_a_report_naming_thousands_of_recipients_is_capped() -> None:
    failed = ",\r\n ".join(f"user{i}@many.example" for i in range(5000)).encode()
    raw = b"From: MAILER-DAEMON@x.example\r\nX-Failed-Recipients: " + failed + b"\r\n\r\nall failed\r\n"
    with capture_logs() as logs:
        events = read_report(raw, message_id=uuid.uuid4(), received_at=NOW)
    assert len(events) == 1000
    assert "report_truncated" in {entry["event"] for entry in logs}


def test_a_truncated_report_still_yields_what_it_names() -> None:
    """A DSN cut short (a relay's size limit) keeps the recipients that survived."""
    raw = (CORPUS / "postfix-multi-recipient.eml").read_bytes()
    cut = raw[: raw.index(b"Final-Recipient: rfc822; frank")]
    events = read_report(cut, message_id=uuid.uuid4(), received_at=NOW)
    assert [e.recipient for e in events] == ["dan@corp.example.com", "eve@corp.example.com"]


# SMTP itself limits lines to 1000 octets (aiosmtpd answers 500): the huge header goes folded.
@pytest.mark.parametrize(
    "name", ["random bytes", "huge folded header", "non-UTF-8 everywhere", "deeply nested multiparts"]
)
async def test_nasty_mail_over_smtp_is_answered_250(inbound: Inbound, name: str) -> None:
    data = NASTY[name]
    reply = await inbound.send(data, to=verp(uuid.uuid4()))
    assert reply.code == 250
