"""SendGrid against a local server that checks each request as the v3 Mail Send reference documents it."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import pytest

from iep.providers.base import PermanentProviderError, TransientProviderError
from iep.providers.sendgrid import SendGridProvider
from tests.providers.samples import EXPECTED_HEADERS, MESSAGE_ID, PDF, PNG, b64, rich_email
from tests.support.http_peer import HttpPeer, Reply, Request

KEY = "SG.test-key"
SG_ID = "4EBmrPZ-QhCFAK2-9cqnzA"


def _error(status: int, message: str, field: str | None = None) -> Reply:
    return Reply(status, {"errors": [{"message": message, "field": field, "help": None}]})


def _email_object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("email"), str) and set(value) <= {"email", "name"}


def sendgrid_api(request: Request) -> Reply:
    """POST /v3/mail/send as documented: Bearer auth, JSON, personalizations/from/subject/content required."""
    if request.headers.get("authorization") != f"Bearer {KEY}":
        return _error(401, "The provided authorization grant is invalid, expired, or revoked")
    if request.method == "GET" and request.path == "/v3/scopes":
        return Reply(200, {"scopes": ["mail.send"]})
    if (request.method, request.path) != ("POST", "/v3/mail/send"):
        return _error(404, "not found")
    if request.headers.get("content-type") != "application/json":
        return _error(415, "Content-Type should be application/json.")
    body = request.json()
    allowed = {"personalizations", "from", "reply_to", "subject", "content", "attachments", "headers", "custom_args"}
    if set(body) - allowed:
        return _error(400, "unknown field", sorted(set(body) - allowed)[0])
    for p in body.get("personalizations") or [None]:
        if not isinstance(p, dict) or not p.get("to") or not all(_email_object(a) for a in p["to"]):
            return _error(400, "The to array is required for all personalization objects", "personalizations.0.to")
        if not all(_email_object(a) for a in p.get("cc", []) + p.get("bcc", [])):
            return _error(400, "Each email address must be an object", "personalizations.0.cc")
    if not _email_object(body.get("from")):
        return _error(400, "The from object must be provided for every email send.", "from")
    if not isinstance(body.get("subject"), str):
        return _error(400, "The subject is required.", "subject")
    content = body.get("content") or []
    types = [c["type"] for c in content]
    if not content or ("text/plain" in types and types[0] != "text/plain"):
        return _error(400, "If present, text/plain content must be first, followed by any other content.", "content")
    for a in body.get("attachments", []):
        try:
            base64.b64decode(a["content"], validate=True)
        except (binascii.Error, KeyError):
            return _error(400, "The attachment content must be base64 encoded.", "attachments.0.content")
        if a.get("disposition") not in ("inline", "attachment") or not a.get("filename"):
            return _error(400, "bad attachment", "attachments.0")
        if a["disposition"] == "inline" and not a.get("content_id"):
            return _error(400, "content_id is required when disposition is inline", "attachments.0.content_id")
    return Reply(202, b"", {"X-Message-Id": SG_ID})


async def test_the_request_is_exactly_the_documented_one() -> None:
    with HttpPeer(sendgrid_api) as peer:
        provider = SendGridProvider(api_key=KEY, base_url=peer.url)
        result = await provider.send(rich_email())
        assert await provider.check_health()
        await provider.close()
    assert result.provider_message_id == SG_ID
    assert result.response.startswith("202")
    request = peer.requests[0]
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.json() == {
        "personalizations": [
            {
                "to": [{"email": "ana@example.org"}, {"email": "bo@example.net"}],
                "cc": [{"email": "manager@example.org"}],
                "bcc": [{"email": "audit@example.org"}],
            }
        ],
        "from": {"email": "noreply@product.example", "name": "Product X"},
        "reply_to": {"email": "support@product.example"},
        "subject": "Your invoice — March",
        "content": [
            {"type": "text/plain", "value": "Hello"},
            {"type": "text/html", "value": '<p>Hello <img src="cid:logo"></p>'},
        ],
        "headers": EXPECTED_HEADERS,
        "custom_args": {"iep_message_id": str(MESSAGE_ID)},
        "attachments": [
            {"content": b64(PDF), "type": "application/pdf", "filename": "invoice.pdf", "disposition": "attachment"},
            {
                "content": b64(PNG),
                "type": "image/png",
                "filename": "logo.png",
                "disposition": "inline",
                "content_id": "logo",
            },
        ],
    }


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (_error(400, "Does not contain a valid address.", "personalizations.0.to.0.email"), PermanentProviderError),
        (_error(401, "The provided authorization grant is invalid, expired, or revoked"), PermanentProviderError),
        (_error(403, "The from address does not match a verified Sender Identity."), PermanentProviderError),
        (_error(413, "The JSON payload you have included in your request is too large."), PermanentProviderError),
        (_error(429, "too many requests"), TransientProviderError),
        (_error(500, "internal error"), TransientProviderError),
        (Reply(503, "Service Unavailable"), TransientProviderError),
    ],
)
async def test_vendor_errors_map_to_what_the_caller_should_do(reply: Reply, kind: type[Exception]) -> None:
    with HttpPeer(lambda request: reply) as peer:
        provider = SendGridProvider(api_key=KEY, base_url=peer.url)
        with pytest.raises(kind) as raised:
            await provider.send(rich_email())
        await provider.close()
    assert str(reply.status) in str(raised.value)


async def test_a_wrong_key_is_refused_by_the_peer_and_fails_health() -> None:
    with HttpPeer(sendgrid_api) as peer:
        provider = SendGridProvider(api_key="SG.wrong", base_url=peer.url)
        with pytest.raises(PermanentProviderError, match="401"):
            await provider.send(rich_email())
        assert not await provider.check_health()
        await provider.close()


async def test_an_unreachable_api_is_transient() -> None:
    with HttpPeer(sendgrid_api) as peer:
        url = peer.url
    provider = SendGridProvider(api_key=KEY, base_url=url, connect_timeout=2)
    with pytest.raises(TransientProviderError):
        await provider.send(rich_email())
    assert not await provider.check_health()
    await provider.close()
