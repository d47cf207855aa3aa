"""Postmark against a local server that checks each request as the Email API reference documents it."""

from __future__ import annotations

import base64

import pytest

from iep.providers.base import PermanentProviderError, TransientProviderError
from iep.providers.postmark import PostmarkProvider
from tests.providers.samples import EXPECTED_HEADERS, MESSAGE_ID, PDF, PNG, b64, rich_email
from tests.support.http_peer import HttpPeer, Reply, Request

TOKEN = "server-token-0f8b"
PM_ID = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817"
FIELDS = {
    "From", "To", "Cc", "Bcc", "Subject", "Tag", "HtmlBody", "TextBody", "ReplyTo", "Headers", "TrackOpens",
    "TrackLinks", "Metadata", "Attachments", "MessageStream",
}  # fmt: skip


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"ErrorCode": code, "Message": message})


def postmark_api(request: Request) -> Reply:
    """POST /email: X-Postmark-Server-Token, JSON; 422 with an ErrorCode for anything it refuses."""
    if request.headers.get("x-postmark-server-token") != TOKEN:
        return _error(401, 10, "Request does not contain a valid Server token.")
    if request.headers.get("accept") != "application/json":
        return _error(406, 0, "Accept: application/json is required")
    if request.method == "GET" and request.path == "/server":
        return Reply(200, {"ID": 1, "Name": "Product X"})
    if (request.method, request.path) != ("POST", "/email"):
        return Reply(404, {"Message": "not found"})
    if request.headers.get("content-type") != "application/json":
        return _error(422, 409, "JSON request required.")
    body = request.json()
    if set(body) - FIELDS or not body.get("From") or not body.get("To"):
        return _error(422, 300, "Invalid email request")
    if not body.get("HtmlBody") and not body.get("TextBody"):
        return _error(422, 300, "Provide either email TextBody or HtmlBody or both.")
    for header in body.get("Headers", []):
        if set(header) != {"Name", "Value"}:
            return _error(422, 300, "Invalid 'Headers'")
    for attachment in body.get("Attachments", []):
        if not {"Name", "Content", "ContentType"} <= set(attachment):
            return _error(422, 300, "Invalid 'Attachments'")
        base64.b64decode(attachment["Content"], validate=True)
        if "ContentID" in attachment and not attachment["ContentID"].startswith("cid:"):
            return _error(422, 300, "Invalid 'ContentID'")
    return Reply(
        200,
        {"To": body["To"], "SubmittedAt": "2026-03-01T12:00:00.0000000-05:00", "MessageID": PM_ID, "ErrorCode": 0,
         "Message": "OK"},
    )  # fmt: skip


async def test_the_request_is_exactly_the_documented_one() -> None:
    with HttpPeer(postmark_api) as peer:
        provider = PostmarkProvider(server_token=TOKEN, base_url=peer.url)
        result = await provider.send(rich_email())
        assert await provider.check_health()
        await provider.close()
    assert result.provider_message_id == PM_ID
    assert peer.requests[0].json() == {
        "From": "Product X <noreply@product.example>",
        "To": "ana@example.org, bo@example.net",
        "Cc": "manager@example.org",
        "Bcc": "audit@example.org",
        "ReplyTo": "support@product.example",
        "Subject": "Your invoice — March",
        "HtmlBody": '<p>Hello <img src="cid:logo"></p>',
        "TextBody": "Hello",
        "Headers": [{"Name": k, "Value": v} for k, v in EXPECTED_HEADERS.items()],
        "Metadata": {"iep_message_id": str(MESSAGE_ID)},
        "MessageStream": "outbound",
        "Attachments": [
            {"Name": "invoice.pdf", "Content": b64(PDF), "ContentType": "application/pdf"},
            {"Name": "logo.png", "Content": b64(PNG), "ContentType": "image/png", "ContentID": "cid:logo"},
        ],
    }


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (_error(401, 10, "Request does not contain a valid Server token."), PermanentProviderError),
        (_error(422, 300, "Invalid email request"), PermanentProviderError),
        (_error(422, 400, "Sender signature not found"), PermanentProviderError),
        (
            _error(422, 406, "You tried to send to a recipient that has been marked as inactive."),
            PermanentProviderError,
        ),
        (_error(422, 405, "Not allowed to send: you have run out of credits."), TransientProviderError),
        (_error(429, 0, "Rate limit exceeded"), TransientProviderError),
        (Reply(500, {"ErrorCode": 0, "Message": "Internal server error"}), TransientProviderError),
        (Reply(503, "Service Unavailable"), TransientProviderError),
    ],
)
async def test_vendor_errors_map_to_what_the_caller_should_do(reply: Reply, kind: type[Exception]) -> None:
    with HttpPeer(lambda request: reply) as peer:
        provider = PostmarkProvider(server_token=TOKEN, base_url=peer.url)
        with pytest.raises(kind, match=str(reply.status)):
            await provider.send(rich_email())
        await provider.close()


async def test_a_200_with_an_error_code_is_not_taken_for_a_send() -> None:
    with HttpPeer(lambda request: _error(200, 300, "Invalid email request")) as peer:
        provider = PostmarkProvider(server_token=TOKEN, base_url=peer.url)
        with pytest.raises(PermanentProviderError, match="unreadable"):
            await provider.send(rich_email())
        await provider.close()
