"""The direct wire form of plain messages: the same checks as the full builder, and the same message once parsed."""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address as HeaderAddress
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iep.providers import mime_wire
from iep.providers.base import Address, Attachment, PermanentProviderError
from iep.providers.mime import HeaderInjectionError, build_mime, serialize
from iep.providers.mime_wire import NotPlain, wire, wire_message
from tests.providers.test_mime import DOMAIN, INJECTIONS, header_block, make_email, parse

# Printable text without the characters a header value may never hold; the builders must agree on all of it.
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x00"), max_size=300
)
_BODY = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=3000)


def _spaced(value: object) -> str:
    return " ".join(str(value).split())


def _same_message(overrides: dict[str, Any]) -> None:
    email = make_email(**overrides)
    fast, fast_id = wire_message(email, message_id_domain=DOMAIN)
    full = build_mime(email, message_id_domain=DOMAIN)
    ours, theirs = parse(fast), parse(serialize(full))
    assert fast_id == str(full["Message-ID"]).strip("<>")
    for name in ("To", "Cc", "Reply-To", "Message-ID", "X-IEP-Message-Id", "MIME-Version"):
        assert str(ours[name]) == str(theirs[name]), name
    # Against the values themselves: the full builder's own folding of long encoded words is not the oracle.
    # The parser folds runs of white space (an NBSP included) to one space, so the comparison does too.
    assert _spaced(ours["Subject"]) == _spaced(email.subject)
    assert ours["From"].addresses[0].addr_spec == email.sender.email
    assert _spaced(ours["From"].addresses[0].display_name) == _spaced(email.sender.name or "")
    assert ours.get_content_type() == theirs.get_content_type()
    for kind in ("plain", "html"):
        a, b = ours.get_body((kind,)), theirs.get_body((kind,))
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a.get_content().rstrip("\r\n") == b.get_content().rstrip("\r\n"), kind
    assert "Bcc" not in ours
    assert all(len(line) <= 998 for line in fast.split(b"\r\n"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_TEXT, name=_TEXT, text=_BODY, html=_BODY)
def test_any_plain_message_parses_as_the_full_builder_writes_it(subject: str, name: str, text: str, html: str) -> None:
    subject = subject.strip() or "x"
    _same_message({"subject": subject, "sender": Address("sender@iep.example", name.strip() or None), "text": text,
                   "html": html})  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [
        {"html": None},
        {"text": None},
        {"subject": "Prêt à partir ? " * 12},
        {"subject": "word " * 60},
        {"headers": {"X-Campaign": "spring", "X-Long": "v " * 100}},
        {"reply_to": "reply@iep.example", "cc": ()},
        {"to": tuple(f"user{i}@example.com" for i in range(30))},
        {"to": ("user@bücher.example",)},
        {"list_unsubscribe": "https://iep.example/u/abc"},
        {"text": "line\r\n.starts with a dot\rand\nmixed ends   \n" + "é" * 200},
    ],
    ids=[
        "text-only",
        "html-only",
        "long-utf8-subject",
        "long-ascii-subject",
        "custom-headers",
        "reply-to",
        "thirty-to",
        "idn",
        "unsubscribe",
        "line-ends",
    ],
)
def test_plain_messages_match_the_full_builder(overrides: dict[str, Any]) -> None:
    _same_message(overrides)


@pytest.mark.parametrize(("overrides", "names"), [(o, n) for _, o, n in INJECTIONS], ids=[i for i, _, _ in INJECTIONS])
def test_header_injection_is_refused_naming_the_header(overrides: dict[str, Any], names: str) -> None:
    with pytest.raises(HeaderInjectionError, match=names):
        wire_message(make_email(**overrides), message_id_domain=DOMAIN)


@pytest.mark.parametrize("name", ["Bcc", "bcc", "From", "Message-ID", "Content-Type", "X-IEP-Message-Id"])
def test_custom_headers_cannot_replace_ours(name: str) -> None:
    with pytest.raises(PermanentProviderError, match=r"not allowed|cannot be set"):
        wire_message(make_email(headers={name: "x@evil.example"}), message_id_domain=DOMAIN)


def test_the_last_defence_stops_what_the_value_checks_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime_wire, "check_header_value", lambda field, value: None)
    with pytest.raises(HeaderInjectionError, match="serialised"):
        wire_message(make_email(subject="Hi\nBcc: x@evil.example"), message_id_domain=DOMAIN)


def test_messages_that_need_more_go_to_the_full_builder() -> None:
    attached = make_email(attachments=(Attachment(filename="a.txt", content=b"hi", content_type="text/plain"),))
    utf8 = make_email(to=("josé@example.com",))
    for email in (attached, utf8):
        with pytest.raises(NotPlain):
            wire_message(email, message_id_domain=DOMAIN)
        raw, message_id = wire(email, message_id_domain=DOMAIN)
        assert message_id in header_block(raw).decode("utf-8")
    assert parse(wire(attached, message_id_domain=DOMAIN)[0]).get_content_type() == "multipart/mixed"


def test_an_unbreakable_header_goes_to_the_full_builder() -> None:
    email = make_email(headers={"X-Token": "t" * 1200})
    with pytest.raises(NotPlain):
        wire_message(email, message_id_domain=DOMAIN)
    raw, _ = wire(email, message_id_domain=DOMAIN)
    assert parse(raw)["X-Token"] == "t" * 1200


_ATOM_CHARS = st.sampled_from("abcXYZ019!#$%&'*+/=?^_`{|}~-.@\"() ,;<>[]\\é")


@settings(max_examples=400, deadline=None)
@given(address=st.text(_ATOM_CHARS, min_size=1, max_size=24))
def test_the_quick_address_check_accepts_only_what_the_strict_parser_accepts(address: str) -> None:
    if not mime_wire._DOT_ATOM_ADDRESS.fullmatch(address):
        return
    try:
        parsed = HeaderAddress(addr_spec=address)
    except (ValueError, HeaderParseError) as exc:
        raise AssertionError(f"{address!r} passed the quick check but not the parser") from exc
    assert parsed.addr_spec == address


def test_the_quick_address_check_refuses_what_needs_the_parser() -> None:
    for address in ('"quoted"@example.com', "a..b@example.com", "a@-x.example", "a@b@c.example", "a b@example.com"):
        assert not mime_wire._DOT_ATOM_ADDRESS.fullmatch(address), address
