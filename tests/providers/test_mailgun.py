"""Mailgun against a local server that checks each request as the Messages API reference documents it."""

from __future__ import annotations

import base64

import pytest

from iep.providers.base import PermanentProviderError, TransientProviderError
from iep.providers.mailgun import MailgunProvider
from tests.providers.samples import EXPECTED_HEADERS, MESSAGE_ID, PDF, PNG, rich_email
from tests.support.http_peer import HttpPeer, Reply, Request

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
DOMAIN = "mg.product.example"
MG_ID = "20260301120000.1.ABCDEF@mg.product.example"


def mailgun_api(request: Request) -> Reply:
    """POST /v3/{domain}/messages: basic auth api:<key>, multipart/form-data, from/to/subject + a body."""
    expected = "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
    if request.headers.get("authorization") != expected:
        return Reply(401, "Forbidden")
    if request.method == "GET" and request.path == f"/v3/domains/{DOMAIN}":
        return Reply(200, {"domain": {"name": DOMAIN, "state": "active"}})
    if (request.method, request.path) != ("POST", f"/v3/{DOMAIN}/messages"):
        return Reply(404, {"message": "Domain not found"})
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return Reply(400, {"message": "expected multipart/form-data"})
    names = [name for name, *_ in request.form()]
    for required in ("from", "to", "subject"):
        if required not in names:
            return Reply(400, {"message": f"'{required}' parameter is missing"})
    if not {"text", "html"} & set(names):
        return Reply(400, {"message": "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters"})
    return Reply(200, {"id": f"<{MG_ID}>", "message": "Queued. Thank you."})


async def test_the_request_is_exactly_the_documented_one() -> None:
    with HttpPeer(mailgun_api) as peer:
        provider = MailgunProvider(api_key=KEY, domain=DOMAIN, base_url=peer.url)
        result = await provider.send(rich_email())
        assert await provider.check_health()
        await provider.close()
    assert result.provider_message_id == MG_ID
    fields = peer.requests[0].form()
    plain = sorted((name, value.decode()) for name, filename, _, value in fields if filename is None)
    assert plain == sorted(
        [
            ("from", "Product X <noreply@product.example>"),
            ("subject", "Your invoice — March"),
            ("to", "ana@example.org"),
            ("to", "bo@example.net"),
            ("cc", "manager@example.org"),
            ("bcc", "audit@example.org"),
            ("text", "Hello"),
            ("html", '<p>Hello <img src="cid:logo"></p>'),
            ("h:Reply-To", "support@product.example"),
            ("v:iep-message-id", str(MESSAGE_ID)),
            *((f"h:{k}", v) for k, v in EXPECTED_HEADERS.items()),
        ]
    )
    files = [(name, filename, ctype, value) for name, filename, ctype, value in fields if filename is not None]
    # The inline part is named after its content id: Mailgun uses the file name as the Content-ID.
    assert files == [
        ("attachment", "invoice.pdf", "application/pdf", PDF),
        ("inline", "logo", "image/png", PNG),
    ]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (
            Reply(400, {"message": "to parameter is not a valid address. please check documentation"}),
            PermanentProviderError,
        ),
        (Reply(401, "Forbidden"), PermanentProviderError),
        (Reply(404, {"message": "Domain not found: mg.product.example"}), PermanentProviderError),
        (Reply(429, {"message": "Too many requests"}), TransientProviderError),
        (Reply(500, {"message": "Internal Server Error"}), TransientProviderError),
    ],
)
async def test_vendor_errors_map_to_what_the_caller_should_do(reply: Reply, kind: type[Exception]) -> None:
    with HttpPeer(lambda request: reply) as peer:
        provider = MailgunProvider(api_key=KEY, domain=DOMAIN, base_url=peer.url)
        with pytest.raises(kind, match=str(reply.status)):
            await provider.send(rich_email())
        await provider.close()


async def test_without_files_the_form_is_still_multipart_with_every_recipient() -> None:
    with HttpPeer(mailgun_api) as peer:
        provider = MailgunProvider(api_key=KEY, domain=DOMAIN, base_url=peer.url)
        await provider.send(rich_email(attachments=(), html=None))
        await provider.close()
    fields = peer.requests[0].form()
    assert [value for name, _, _, value in fields if name == "to"] == [b"ana@example.org", b"bo@example.net"]
    assert not [name for name, filename, _, _ in fields if filename is not None]
