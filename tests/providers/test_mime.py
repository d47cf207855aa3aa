"""The MIME builder: structure, headers, Bcc, RFC 2047, IDN, and every header-injection route we know of."""

from __future__ import annotations

import email
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from iep.providers import mime
from iep.providers.base import Address, OutgoingEmail, PermanentProviderError
from iep.providers.mime import (
    HeaderInjectionError,
    build_mime,
    envelope_recipients,
    envelope_sender,
    message_id_of,
    needs_smtputf8,
    serialize,
)

DOMAIN = "mail.iep.example"


def make_email(**overrides: Any) -> OutgoingEmail:
    base = OutgoingEmail(
        message_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        sender=Address("sender@iep.example", "IEP Sender"),
        to=("alice@example.com",),
        cc=("carol@example.com",),
        bcc=("hidden@example.com",),
        subject="Hello",
        html="<p>Hello <b>world</b></p>",
        text="Hello world",
    )
    return replace(base, **overrides)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_block(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[0]


async def test_text_only_is_text_plain() -> None:
    msg = parse(serialize(build_mime(make_email(html=None), message_id_domain=DOMAIN)))
    assert msg.get_content_type() == "text/plain"
    assert not msg.is_multipart()
    assert msg.get_content().rstrip("\r\n") == "Hello world"


async def test_html_only_is_text_html() -> None:
    msg = parse(serialize(build_mime(make_email(text=None), message_id_domain=DOMAIN)))
    assert msg.get_content_type() == "text/html"
    assert msg.get_content().rstrip("\r\n") == "<p>Hello <b>world</b></p>"


async def test_both_bodies_are_multipart_alternative_text_first() -> None:
    msg = parse(serialize(build_mime(make_email(), message_id_domain=DOMAIN)))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert all("MIME-Version" not in p for p in parts)
    assert msg["MIME-Version"] == "1.0"


async def test_no_body_at_all_is_permanent() -> None:
    with pytest.raises(PermanentProviderError, match="body"):
        build_mime(make_email(html=None, text=None), message_id_domain=DOMAIN)


async def test_non_ascii_bodies_survive_and_stay_seven_bit() -> None:
    body = "Grüße — ünïcode ✓"
    raw = serialize(build_mime(make_email(text=body, html=f"<p>{body}</p>"), message_id_domain=DOMAIN))
    assert raw.isascii()  # quoted-printable: nothing for a relay to downgrade
    msg = parse(raw)
    assert msg.get_body(("plain",)).get_content().rstrip("\r\n") == body  # type: ignore[union-attr]
    assert msg.get_body(("html",)).get_content().rstrip("\r\n") == f"<p>{body}</p>"  # type: ignore[union-attr]


async def test_headers_are_written_and_bcc_never_is() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    mail = make_email(reply_to="replies@iep.example", headers={"X-Campaign": "spring"})
    raw = serialize(build_mime(mail, message_id_domain=DOMAIN, date=when))
    msg = parse(raw)

    assert msg["From"] == "IEP Sender <sender@iep.example>"
    assert msg["To"] == "alice@example.com"
    assert msg["Cc"] == "carol@example.com"
    assert msg["Reply-To"] == "replies@iep.example"
    assert msg["Subject"] == "Hello"
    assert msg["Date"].datetime == when
    assert msg["Message-ID"] == f"<{mail.message_id}@{DOMAIN}>"
    assert msg["X-IEP-Message-Id"] == str(mail.message_id)
    assert msg["X-Campaign"] == "spring"
    assert "Bcc" not in msg
    assert b"bcc" not in header_block(raw).lower()
    assert b"hidden@example.com" not in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only: no bare LF for a server to misread


async def test_cc_and_reply_to_only_when_given() -> None:
    msg = parse(serialize(build_mime(make_email(cc=(), bcc=()), message_id_domain=DOMAIN)))
    assert "Cc" not in msg
    assert "Reply-To" not in msg


async def test_message_id_of_strips_the_brackets() -> None:
    mail = make_email()
    assert message_id_of(build_mime(mail, message_id_domain=DOMAIN)) == f"{mail.message_id}@{DOMAIN}"


async def test_display_name_with_specials_is_quoted() -> None:
    mail = make_email(sender=Address("sender@iep.example", 'Doe, "Jo" <boss@evil.example>'))
    msg = parse(serialize(build_mime(mail, message_id_domain=DOMAIN)))
    assert len(msg["From"].addresses) == 1
    assert msg["From"].addresses[0].addr_spec == "sender@iep.example"
    assert msg["From"].addresses[0].display_name == 'Doe, "Jo" <boss@evil.example>'


async def test_utf8_subject_and_display_name_are_rfc2047_and_decode_back() -> None:
    subject = "Grüße aus Köln — 東京 " * 4
    name = "Jürgen Müller"
    mail = make_email(subject=subject, sender=Address("sender@iep.example", name))
    raw = serialize(build_mime(mail, message_id_domain=DOMAIN))
    head = header_block(raw)
    assert head.isascii()
    assert b"=?utf-8?" in head.lower()
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    msg = parse(raw)
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == name


INJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("subject CR", {"subject": "Hi\rBcc: injected@evil.example"}, "Subject"),
    ("subject LF", {"subject": "Hi\nBcc: injected@evil.example"}, "Subject"),
    ("subject CRLF", {"subject": "Hi\r\nBcc: injected@evil.example"}, "Subject"),
    ("subject NUL", {"subject": "Hi\0there"}, "Subject"),
    ("subject U+2028", {"subject": "Hi\u2028Bcc: injected@evil.example"}, "Subject"),
    ("subject Q word LF", {"subject": "A =?UTF-8?Q?=0A?=Bcc: injected@evil.example"}, "Subject"),
    ("subject B word LF", {"subject": "A =?UTF-8?B?Cg==?=Bcc: injected@evil.example"}, "Subject"),
    (
        "subject Q word CRLF",
        {"subject": "A " * 40 + "=?UTF-8?Q?=0D=0A?=Bcc: injected@evil.example"},
        "Subject",
    ),
    ("subject Q word NUL", {"subject": "A =?utf-8?q?=00?= B"}, "Subject"),
    ("subject glued Q word", {"subject": "A=?UTF-8?Q?=0A?=Bcc: injected@evil.example"}, "Subject"),
    ("subject unknown charset", {"subject": "A =?x-nope?Q?=0A?=Bcc: x@evil.example"}, "Subject"),
    ("display name LF", {"sender": Address("s@iep.example", "Eve\nBcc: injected@evil.example")}, "From"),
    ("display name CR", {"sender": Address("s@iep.example", "Eve\rX")}, "From display name"),
    ("display name NUL", {"sender": Address("s@iep.example", "Eve\0")}, "From display name"),
    ("display name Q word", {"sender": Address("s@iep.example", "=?UTF-8?Q?=0A?=Bcc: x@e.example")}, "From"),
    ("display name B word", {"sender": Address("s@iep.example", "=?UTF-8?B?DQo=?=Bcc: x@e.example")}, "From"),
    ("from address CRLF", {"sender": Address("s@iep.example\r\nBcc: x@evil.example")}, "From address"),
    ("to address LF", {"to": ("alice@example.com\nBcc: x@evil.example",)}, "To address"),
    ("to address NUL", {"to": ("alice\0@example.com",)}, "To address"),
    ("cc address CRLF", {"cc": ("carol@example.com\r\nBcc: x@evil.example",)}, "Cc address"),
    ("reply-to LF", {"reply_to": "r@iep.example\nBcc: x@evil.example"}, "Reply-To address"),
    ("reply-to NUL", {"reply_to": "r@iep.example\0"}, "Reply-To address"),
    ("custom name CRLF", {"headers": {"X-A\r\nBcc": "x@evil.example"}}, "custom header name"),
    ("custom name NUL", {"headers": {"X-A\0": "v"}}, "custom header name"),
    ("custom name colon", {"headers": {"Bcc: x@evil.example\r\nX-A": "v"}}, "custom header name"),
    ("custom name space", {"headers": {"X A": "v"}}, "custom header name"),
    ("custom value CRLF", {"headers": {"X-A": "v\r\nBcc: x@evil.example"}}, "custom header X-A"),
    ("custom value LF", {"headers": {"X-A": "v\nBcc: x@evil.example"}}, "custom header X-A"),
    ("custom value NUL", {"headers": {"X-A": "v\0"}}, "custom header X-A"),
    (
        "custom value Q word",
        {"headers": {"X-A": "v =?UTF-8?Q?=0D=0A?=Bcc: x@e.example"}},
        "custom header X-A",
    ),
]


@pytest.mark.parametrize(("overrides", "names"), [(o, n) for _, o, n in INJECTIONS], ids=[i for i, _, _ in INJECTIONS])
async def test_header_injection_is_refused_naming_the_header(overrides: dict[str, Any], names: str) -> None:
    with pytest.raises(HeaderInjectionError, match=names):
        build_mime(make_email(**overrides), message_id_domain=DOMAIN)


async def test_injection_in_message_id_domain_is_refused() -> None:
    with pytest.raises(HeaderInjectionError, match="Message-ID"):
        build_mime(make_email(), message_id_domain="iep.example\r\nBcc: x@evil.example")


async def test_bcc_addresses_are_checked_for_the_envelope() -> None:
    with pytest.raises(HeaderInjectionError, match="Bcc address"):
        envelope_recipients(make_email(bcc=("hidden@example.com\r\nRCPT TO:<x@evil.example>",)))


async def test_header_injection_is_permanent() -> None:
    assert issubclass(HeaderInjectionError, PermanentProviderError)
    assert not HeaderInjectionError("x").transient


@pytest.mark.parametrize("name", ["Bcc", "bcc", "From", "Message-ID", "Content-Type", "X-IEP-Message-Id"])
async def test_custom_headers_cannot_replace_ours(name: str) -> None:
    with pytest.raises(PermanentProviderError, match=r"not allowed|cannot be set"):
        build_mime(make_email(headers={name: "x@evil.example"}), message_id_domain=DOMAIN)


@pytest.mark.parametrize("address", ["a@example.com, b@evil.example", "a b@example.com", "<a@example.com>", "nope"])
async def test_an_address_must_be_one_bare_address(address: str) -> None:
    with pytest.raises(PermanentProviderError, match="To"):
        build_mime(make_email(to=(address,)), message_id_domain=DOMAIN)


async def test_final_defence_catches_what_the_email_package_lets_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With the value checks switched off, a NUL passes through the email package untouched; the check of the
    # serialised header block must still stop it.
    monkeypatch.setattr(mime, "check_header_value", lambda field, value: None)
    with pytest.raises(HeaderInjectionError, match="serialised"):
        build_mime(make_email(subject="Hi\0Bcc: x@evil.example"), message_id_domain=DOMAIN)


async def test_email_package_refusals_become_header_injection_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "check_header_value", lambda field, value: None)
    with pytest.raises(HeaderInjectionError, match="X-A"):
        build_mime(make_email(headers={"X-A": "v\r\nBcc: x@evil.example"}), message_id_domain=DOMAIN)


async def test_idn_domains_are_punycoded_without_smtputf8() -> None:
    mail = make_email(
        sender=Address("news@bücher.example", "Bücher"),
        to=("user@münchen.example",),
        cc=(),
        bcc=("audit@straße.example",),
    )
    assert not needs_smtputf8(mail)
    raw = serialize(build_mime(mail, message_id_domain=DOMAIN))
    assert raw.isascii()
    msg = parse(raw)
    assert msg["To"].addresses[0].addr_spec == "user@xn--mnchen-3ya.example"
    assert msg["From"].addresses[0].addr_spec == "news@xn--bcher-kva.example"
    assert envelope_sender(mail) == "news@xn--bcher-kva.example"
    assert envelope_recipients(mail) == [
        "user@xn--mnchen-3ya.example",
        "audit@xn--strae-oqa.example",
    ]  # IDNA 2008 keeps ß


async def test_invalid_idn_is_permanent() -> None:
    with pytest.raises(PermanentProviderError, match="IDN"):
        build_mime(make_email(to=("a@bü\u200d.example",)), message_id_domain=DOMAIN)


async def test_non_ascii_local_part_needs_smtputf8_and_stays_utf8() -> None:
    mail = make_email(to=("jürgen@example.com",), bcc=())
    assert needs_smtputf8(mail)
    assert needs_smtputf8(make_email(bcc=("zoë@example.com",)))  # the envelope needs it too
    raw = serialize(build_mime(mail, message_id_domain=DOMAIN))
    assert "To: jürgen@example.com\r\n".encode() in raw
    # The bytes parser reads headers as ASCII; a UTF-8 aware reader gets the mailbox back.
    parsed = email.message_from_string(raw.decode("utf-8"), policy=policy.default)
    assert parsed["To"].addresses[0].username == "jürgen"


async def test_envelope_is_to_cc_bcc_deduplicated_in_order() -> None:
    mail = make_email(
        to=("alice@example.com", "bob@example.com"),
        cc=("ALICE@example.com", "carol@example.com"),
        bcc=("Bob@Example.com", "hidden@example.com"),
    )
    assert envelope_recipients(mail) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "hidden@example.com",
    ]
