"""Header injection at send, for every provider (docs/security.md): 53 payloads in rendered subjects, display
names, custom header values and names reach the SMTP sink and each HTTP provider's local peer either refused
(nothing sent) or as exactly the headers IEP means to write."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from iep.messages.header_safety import LINE_BREAKS, custom_header_refusal
from iep.providers.base import Address, OutgoingEmail, Provider, ProviderError
from iep.providers.mailgun import MailgunProvider
from iep.providers.postmark import PostmarkProvider
from iep.providers.resend import ResendProvider
from iep.providers.sendgrid import SendGridProvider
from iep.providers.smtp import SmtpProvider
from iep.rendering.renderer import Renderer
from tests.support.http_peer import HttpPeer, Reply, Request
from tests.support.smtp_sink import SmtpSink

_CRLF_BCC = "x\r\nBcc: victim@evil.example"


def _q(text: str) -> str:
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


# Values rendered into the subject through a variable (`{{v}}`): each must be refused.
SUBJECT_VARIABLES = [
    _CRLF_BCC,
    "x\nBcc: victim@evil.example",
    "x\rBcc: victim@evil.example",
    "x\x00Bcc: victim@evil.example",
    "x\u2028Bcc: victim@evil.example",
    "x\u2029Bcc: victim@evil.example",
    "x\x85Bcc: victim@evil.example",
    "x\x0bBcc: victim@evil.example",
    "x\x0cBcc: victim@evil.example",
    "x\x1cBcc: victim@evil.example",
    "x\x1dBcc: victim@evil.example",
    "x\x1eBcc: victim@evil.example",
    "=?UTF-8?Q?x=0ABcc:_victim@evil.example?=",
    "=?UTF-8?Q?x=0D=0ABcc:_victim@evil.example?=",
    _q("x\r\nBcc: victim@evil.example"),
    "A =?UTF-8?Q?=0A?=Bcc: injected@evil.example",
    "=?UTF-8?Q?=0D=0A?=X-SES-CONFIGURATION-SET: evil",
    "=?iso-8859-1?q?x=0D=0AReceived:_from_evil?=",
    "x\r\n\r\n<html>a body of the attacker's",
    "x\r\n X-Folded: continuation",
]
DISPLAY_NAMES = [
    "Evil\r\nBcc: victim@evil.example",
    "Evil\nX-SMTPAPI: {}",
    "Evil\u2028Bcc: victim@evil.example",
    "Evil\x00",
    "=?UTF-8?Q?Evil=0ABcc:_victim@evil.example?=",
    _q("Evil\r\nReturn-Path: <bounce@evil.example>"),
]
HEADER_VALUES = [
    "a\r\nBcc: victim@evil.example",
    "a\nX-SES-CONFIGURATION-SET: evil",
    "a\u2029b",
    "=?UTF-8?Q?a=0D=0ABcc:_victim@evil.example?=",
    "a\x85b",
]
# Names a caller may not set: provider control, trace and authentication results, envelope and IEP's own.
HEADER_NAMES = [
    "X-SES-CONFIGURATION-SET",
    "X-SES-FROM-ARN",
    "X-Mailgun-Variables",
    "X-Mailgun-Tag",
    "X-PM-Tag",
    "X-PM-Message-Stream",
    "X-SMTPAPI",
    "Authentication-Results",
    "Resent-To",
    "Resent-Bcc",
    "Received",
    "Return-Path",
    "DKIM-Signature",
    "ARC-Seal",
    "ARC-Authentication-Results",
    "X-Google-Original-From",
    "X-Received",
    "X-Originating-IP",
    "X-Forwarded-For",
    "X-Spam-Status",
    "Bcc",
    "X-IEP-Message-Id",
    "Bcc\r\nX",
    "X-Foo:bar",
]
# Look suspicious, are harmless: sent, and the headers are still exactly the intended ones.
BENIGN_SUBJECTS = ["x%0d%0aBcc: victim@evil.example", "x\\r\\nBcc: victim@evil.example", "=?UTF-8?Q?x?= plain"]


@dataclass(frozen=True)
class Case:
    id: str
    overrides: dict[str, Any]
    refused: bool
    rendered: str | None = None  # a subject made by rendering `{{v}}` with this value


def cases() -> Iterator[Case]:
    for i, value in enumerate(SUBJECT_VARIABLES):
        yield Case(f"subject-var-{i}", {}, True, rendered=value)
    for i, value in enumerate(DISPLAY_NAMES):
        yield Case(f"display-name-{i}", {"sender": Address("noreply@product.example", value)}, True)
    for i, value in enumerate(HEADER_VALUES):
        yield Case(f"header-value-{i}", {"headers": {"X-Campaign": value}}, True)
    for i, name in enumerate(HEADER_NAMES):
        yield Case(f"header-name-{i}", {"headers": {name: "v"}}, True)
    for i, value in enumerate(BENIGN_SUBJECTS):
        yield Case(f"benign-subject-{i}", {"subject": value}, False)
    yield Case("allowed-headers", {"headers": {"X-Campaign": "spring", "List-Id": "<news.product.example>"}}, False)


CASES = list(cases())
# The email IEP means to write, and every header name a provider may put on it.
INTENDED = {
    "from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version", "content-type",
    "content-transfer-encoding", "x-iep-message-id", "x-campaign", "list-id",
}  # fmt: skip


def test_there_are_at_least_40_payloads() -> None:
    assert len([c for c in CASES if c.refused]) >= 40


def _email(**overrides: Any) -> OutgoingEmail:
    base = OutgoingEmail(
        message_id=uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057"),
        sender=Address("noreply@product.example", "Product"),
        to=("ana@example.org",),
        cc=("cc@example.org",),
        reply_to="support@product.example",
        subject="Hello",
        html="<p>Hello</p>",
        text="Hello",
    )
    return replace(base, **overrides)


async def _build(case: Case, renderer: Renderer) -> OutgoingEmail:
    overrides = dict(case.overrides)
    if case.rendered is not None:
        rendered = await renderer.inline("Hi {{{v}}}", None, "Hello", {"v": case.rendered})
        overrides["subject"] = rendered.subject
    return _email(**overrides)


def _peer_reply(request: Request) -> Reply:
    if request.path.startswith("/v3/mail/send"):
        return Reply(202, b"", headers={"X-Message-Id": "sg-1"})
    if "/messages" in request.path:
        return Reply(200, {"id": "<mg-1@example>", "message": "Queued. Thank you."})
    if request.path == "/email":
        return Reply(200, {"MessageID": "pm-1", "ErrorCode": 0, "Message": "OK"})
    return Reply(200, {"id": "re-1"})


def _http_providers(url: str) -> list[Provider]:
    return [
        SendGridProvider(api_key="SG.k", base_url=url),
        MailgunProvider(api_key="key", domain="mg.product.example", base_url=url),
        PostmarkProvider(server_token="pm-token", base_url=url),
        ResendProvider(api_key="re_k", base_url=url),
    ]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _header_names(request: Request) -> set[str]:
    """The header names a provider is asked to add, from its documented field for them."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return {name[2:].lower() for name, _, _, _ in request.form() if name and name.startswith("h:")}
    body = request.json()
    headers = body.get("headers") or body.get("Headers") or {}
    if isinstance(headers, list):  # Postmark: [{"Name", "Value"}]
        return {str(h["Name"]).lower() for h in headers}
    return {str(name).lower() for name in headers}


def _request_strings(request: Request) -> list[str]:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return [(name or "") + content.decode("utf-8", "replace") for name, _, _, content in request.form()]
    return list(_strings(request.json()))


async def _outcome(provider: Provider, email: OutgoingEmail) -> str:
    """`sent`, `refused` (a permanent error: nothing can make it sendable) or `retryable`."""
    try:
        await provider.send(email)
    except ProviderError as exc:
        return "retryable" if exc.transient else "refused"
    finally:
        await provider.close()
    return "sent"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_http_providers_send_no_extra_header(case: Case, renderer: Renderer) -> None:
    email = await _build(case, renderer)
    with HttpPeer(_peer_reply) as peer:
        for provider in _http_providers(peer.url):
            outcome = await _outcome(provider, email)
            assert outcome == ("refused" if case.refused else "sent"), f"{provider.name}: {case.id}"
    assert len(peer.requests) == (0 if case.refused else 4)
    for request in peer.requests:
        assert _header_names(request) <= INTENDED | {"list-unsubscribe", "list-unsubscribe-post"}
        # The bodies are one line too: no line break may be anywhere in what a provider was given.
        for text in _request_strings(request):
            assert LINE_BREAKS.isdisjoint(text), text


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_smtp_sends_no_extra_header(case: Case, renderer: Renderer, sink: SmtpSink) -> None:
    email = await _build(case, renderer)
    provider = SmtpProvider(
        host="127.0.0.1", port=sink.port, username=None, password=None, tls="none", timeout=5,
        pool_size=1, message_id_domain="iep.test",
    )  # fmt: skip
    assert await _outcome(provider, email) == ("refused" if case.refused else "sent")
    assert len(sink.handler.received) == (0 if case.refused else 1)
    for received in sink.handler.received:
        names = {name.lower() for name in received.message}
        assert names <= INTENDED, names - INTENDED
        assert received.rcpt_tos == ["ana@example.org", "cc@example.org"]


def test_the_allowlist_admits_what_senders_need() -> None:
    for name in ("X-Campaign", "X-Priority", "List-Id", "References", "In-Reply-To", "Precedence", "Auto-Submitted"):
        assert custom_header_refusal(name) is None, name
