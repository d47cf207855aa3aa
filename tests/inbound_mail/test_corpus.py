"""Each report of the corpus, sent over real SMTP to the running server, is classified as a person would.

The table is the specification: per file, the events the server must hand to the sink, for the message the
VERP address named. `refused` means the server never takes the mail (550 at RCPT).
"""

from __future__ import annotations

import uuid

import aiosmtplib
import pytest

from iep.provider_events.vocabulary import BounceKind, EventType
from tests.inbound_mail.conftest import BOUNCE_DOMAIN, CORPUS, Inbound, verp

HARD = (EventType.BOUNCED, BounceKind.HARD)
SOFT = (EventType.BOUNCED, BounceKind.SOFT)
DELAYED = (EventType.DEFERRED, None)
COMPLAINT = (EventType.COMPLAINED, None)
DELIVERED = (EventType.DELIVERED, None)

# file → [(event type, bounce kind, recipient)]; [] = ignored (250, nothing stored); None = refused at RCPT.
EXPECTED: dict[str, list[tuple[EventType, BounceKind | None, str]] | None] = {
    # RFC 3464 DSNs
    "postfix-user-unknown.eml": [(*HARD, "ann.example@example.net")],
    "postfix-mailbox-full-soft.eml": [(*SOFT, "bert@provider.example.de")],  # failed, 4.2.2
    "postfix-delayed.eml": [(*DELAYED, "carol@slow.example.org")],
    "postfix-multi-recipient.eml": [
        (*HARD, "dan@corp.example.com"),
        (*HARD, "eve@corp.example.com"),
        (*DELAYED, "frank@branch.example.com"),
    ],
    "sendmail-dsn.eml": [(*HARD, "grace.hopper@university.example.edu")],
    "exim-delayed-dsn.eml": [(*DELAYED, "kim@faraway.example.com")],
    "gmail-dsn.eml": [(*HARD, "nadia.nonexistent@gmail.com")],
    "outlook-ndr.eml": [(*HARD, "quentin.former@contoso.example.com")],
    "dsn-relayed.eml": [(*DELIVERED, "zoe@partner.example.com")],
    "dsn-8bit-latin1.eml": [(*HARD, "juergen@verein.example.de")],
    # Bounces in prose (flufl.bounce finds the address, the reply code next to it says hard or soft)
    "sendmail-legacy.eml": [(*HARD, "heidi@oldhost.example.org")],
    "exim-prose.eml": [(*HARD, "ivan@clients.example.net"), (*HARD, "judy@clients.example.net")],
    "qmail-user-unknown.eml": [(*HARD, "leo@members.example.com")],
    "qmail-quota-soft.eml": [(*SOFT, "mia@smallisp.example.net")],  # "(#4.2.2)"
    "gmail-legacy.eml": [(*HARD, "oscar.missing@example.fr")],
    "gmail-legacy-delayed.eml": [(*DELAYED, "peggy@busy.example.com")],
    "exchange2003-prose.eml": [(*HARD, "rita.left@corp.example.org")],
    "yahoo-prose.eml": [(*HARD, "sam.gone@yahoo.com")],
    # RFC 5965 ARF
    "ses-arf.eml": [(*COMPLAINT, "tina.reader@example.com")],
    "hotmail-jmrp.eml": [(*COMPLAINT, "uma.user@hotmail.com")],  # no Original-Rcpt-To: Hotmail's own header
    "yahoo-cfl-fraud.eml": [(*COMPLAINT, "victor.v@yahoo.com")],
    "arf-auth-failure.eml": [],  # a DMARC failure report: about the domain, not a recipient's complaint
    # Not reports
    "autoreply-out-of-office.eml": [],
    "autoreply-exchange.eml": [],
    "non-verp-recipient.eml": None,
}


def test_the_table_covers_the_whole_corpus() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_report_is_classified_over_smtp(inbound: Inbound, name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    expected = EXPECTED[name]
    message_id = uuid.uuid4()
    if expected is None:
        # It is addressed to the bounce domain's postmaster, not to a VERP address: refused before DATA.
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await inbound.send(raw, to=f"postmaster@{BOUNCE_DOMAIN}")
        assert refused.value.code == 550
        assert inbound.sink.batches == []
        return
    reply = await inbound.send(raw, to=verp(message_id))
    assert reply.code == 250, reply
    got = [(e.type, e.bounce, e.recipient) for e in inbound.sink.events]
    assert got == expected
    for event in inbound.sink.events:
        assert event.provider == "smtp"
        assert event.message_id == message_id
        assert len(event.event_id) == 64
        if event.type is not EventType.COMPLAINED:
            assert event.diagnostic, f"{name}: no reason kept for {event.recipient}"
    if not expected:
        assert inbound.sink.batches == []  # ignored: the sink is not even called


async def test_a_redelivered_report_yields_the_same_event_ids(inbound: Inbound) -> None:
    """A server that did not see our 250 sends the report again: the events must be recognisable as the same."""
    raw = (CORPUS / "postfix-multi-recipient.eml").read_bytes()
    message_id = uuid.uuid4()
    await inbound.send(raw, to=verp(message_id))
    # Relays on the way add headers at the top; the report's identity does not change.
    await inbound.send(b"Received: from relay2.example.net by mx.test; Tue, 1 Dec 2026\r\n" + raw, to=verp(message_id))
    first, second = inbound.sink.batches
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert len({e.event_id for e in first}) == 3
    # The same report about another message is another set of events.
    await inbound.send(raw, to=verp(uuid.uuid4()))
    assert not {e.event_id for e in inbound.sink.batches[2]} & {e.event_id for e in first}


async def test_the_diagnostic_is_the_remote_servers_words(inbound: Inbound) -> None:
    await inbound.send((CORPUS / "postfix-user-unknown.eml").read_bytes(), to=verp(uuid.uuid4()))
    await inbound.send((CORPUS / "exim-prose.eml").read_bytes(), to=verp(uuid.uuid4()))
    await inbound.send((CORPUS / "gmail-dsn.eml").read_bytes(), to=verp(uuid.uuid4()))
    postfix, ivan, judy, gmail = inbound.sink.events
    assert postfix.diagnostic is not None
    assert postfix.diagnostic.startswith("550 5.1.1 <ann.example@example.net>")
    assert postfix.provider_message_id == "6f1c1d9e-0a5b-4c3e-9a77-5d2f0c1e8b41@iep.local"
    assert judy.diagnostic == "550 5.2.1 <judy@clients.example.net>: Mailbox disabled"
    assert ivan.diagnostic is not None
    assert "User unknown" in ivan.diagnostic
    # Gmail's Diagnostic-Code drops the code; the Status puts it back in front.
    assert gmail.diagnostic is not None
    assert gmail.diagnostic.startswith("5.1.1 The email account")
