"""Resend against a local server that checks each request as the Send Email reference documents it, including
that our message id is the Idempotency-Key (a repeated key with the same body answers the first id)."""

from __future__ import annotations

import base64
import json

import pytest

from iep.providers.base import PermanentProviderError, TransientProviderError
from iep.providers.resend import ResendProvider
from tests.providers.samples import EXPECTED_HEADERS, MESSAGE_ID, PDF, PNG, b64, rich_email
from tests.support.http_peer import HttpPeer, Reply, Request

KEY = "re_123456789"
FIELDS = {"from", "to", "subject", "bcc", "cc", "reply_to", "html", "text", "headers", "attachments", "tags"}


def _error(status: int, name: str, message: str) -> Reply:
    return Reply(status, {"statusCode": status, "message": message, "name": name})


class ResendApi:
    def __init__(self) -> None:
        self.by_key: dict[str, tuple[bytes, str]] = {}

    def __call__(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return _error(401, "missing_api_key", "Missing API key in the authorization header.")
        if request.method == "GET" and request.path == "/domains":
            return Reply(200, {"data": []})
        if (request.method, request.path) != ("POST", "/emails"):
            return _error(404, "not_found", "The requested endpoint does not exist.")
        body = request.json()
        if set(body) - FIELDS or not all(body.get(f) for f in ("from", "to", "subject")):
            return _error(422, "validation_error", "Invalid request body")
        if len(body["to"]) > 50:
            return _error(422, "validation_error", "Too many recipients")
        for a in body.get("attachments", []):
            base64.b64decode(a["content"], validate=True)
            if len(a.get("content_id", "")) >= 128:
                return _error(422, "validation_error", "content_id too long")
        for tag in body.get("tags", []):
            if not all(c.isalnum() or c in "_-" for c in tag["name"] + tag["value"]):
                return _error(422, "validation_error", "tags may hold only ASCII letters, digits, _ and -")
        key = request.headers.get("idempotency-key")
        if key:
            if len(key) > 256:
                return _error(422, "invalid_idempotency_key", "The key must be between 1-256 chars.")
            if key in self.by_key:
                first_body, first_id = self.by_key[key]
                if first_body != request.body:
                    return _error(
                        409, "invalid_idempotent_request", "Same idempotency key used with a different payload."
                    )
                return Reply(200, {"id": first_id})
        email_id = f"49a3999c-0ce1-4ea6-ab68-afcd6dc2e{len(self.by_key):03d}"
        if key:
            self.by_key[key] = (request.body, email_id)
        return Reply(200, {"id": email_id})


async def test_the_request_is_exactly_the_documented_one_and_a_retry_is_deduplicated() -> None:
    api = ResendApi()
    with HttpPeer(api) as peer:
        provider = ResendProvider(api_key=KEY, base_url=peer.url)
        first = await provider.send(rich_email())
        again = await provider.send(rich_email())
        assert await provider.check_health()
        await provider.close()
    assert first.provider_message_id == again.provider_message_id == "49a3999c-0ce1-4ea6-ab68-afcd6dc2e000"
    assert len(api.by_key) == 1
    request = peer.requests[0]
    assert request.headers["idempotency-key"] == str(MESSAGE_ID)
    assert request.json() == {
        "from": "Product X <noreply@product.example>",
        "to": ["ana@example.org", "bo@example.net"],
        "cc": ["manager@example.org"],
        "bcc": ["audit@example.org"],
        "reply_to": "support@product.example",
        "subject": "Your invoice — March",
        "html": '<p>Hello <img src="cid:logo"></p>',
        "text": "Hello",
        "headers": EXPECTED_HEADERS,
        "tags": [{"name": "iep_message_id", "value": str(MESSAGE_ID)}],
        "attachments": [
            {"filename": "invoice.pdf", "content": b64(PDF), "content_type": "application/pdf"},
            {"filename": "logo.png", "content": b64(PNG), "content_type": "image/png", "content_id": "logo"},
        ],
    }


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (_error(401, "missing_api_key", "Missing API key in the authorization header."), PermanentProviderError),
        (_error(403, "invalid_api_key", "API key is invalid."), PermanentProviderError),
        (_error(422, "validation_error", "Invalid `to` field."), PermanentProviderError),
        (_error(409, "invalid_idempotent_request", "Same key, different payload."), PermanentProviderError),
        (_error(409, "concurrent_idempotent_requests", "Same key, still in progress."), TransientProviderError),
        (_error(429, "rate_limit_exceeded", "Too many requests."), TransientProviderError),
        (_error(429, "daily_quota_exceeded", "Daily sending quota reached."), TransientProviderError),
        (_error(500, "application_error", "An unexpected error occurred."), TransientProviderError),
    ],
)  # fmt: skip
async def test_vendor_errors_map_to_what_the_caller_should_do(reply: Reply, kind: type[Exception]) -> None:
    with HttpPeer(lambda request: reply) as peer:
        provider = ResendProvider(api_key=KEY, base_url=peer.url)
        with pytest.raises(kind, match=json.loads(json.dumps(reply.body))["name"]):
            await provider.send(rich_email())
        await provider.close()
