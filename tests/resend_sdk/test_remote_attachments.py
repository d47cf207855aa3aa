"""A11 `attachments[].path`: the file is fetched at accept under the tenant-webhook SSRF guard (loopback refused
unless WEBHOOK_ALLOWED_CIDRS lets it), and reaches the SMTP sink as an attachment."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import resend
from resend.exceptions import ResendError

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

CSV = b"sku,qty\nA-1,3\n"


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/files/stock.csv":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(CSV)))
        self.end_headers()
        self.wfile.write(CSV)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def files() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/files"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sdk(served: str, tenant: TenantKey) -> Iterator[None]:
    before = resend.api_url, resend.api_key
    resend.api_url, resend.api_key = served, tenant.key
    yield
    resend.api_url, resend.api_key = before


def _email(url: str) -> resend.Emails.SendParams:
    return {
        "from": "app@product.example",
        "to": "ann@example.com",
        "subject": "Stock",
        "text": "attached",
        "attachments": [{"path": url}],
    }


@pytest.mark.usefixtures("sdk")
async def test_a_loopback_url_is_refused_by_the_ssrf_guard(files: str) -> None:
    with pytest.raises(ResendError) as refused:
        await asyncio.to_thread(resend.Emails.send, _email(f"{files}/stock.csv"))
    assert refused.value.code == 422
    assert "`attachments[0].path`" in refused.value.message


@pytest.mark.usefixtures("sdk")
async def test_an_allowed_url_is_fetched_and_attached(files: str, container: Container, sink: SmtpSink) -> None:
    container.settings = container.settings.model_copy(
        update={"webhook_allow_http": True, "webhook_allowed_cidrs": "127.0.0.0/8"}
    )
    sent = await asyncio.to_thread(resend.Emails.send, _email(f"{files}/stock.csv"))
    with pytest.raises(ResendError) as missing:
        await asyncio.to_thread(resend.Emails.send, _email(f"{files}/gone.csv"))
    assert "HTTP 404" in missing.value.message
    await drain(container)
    [received] = sink.handler.received
    [attachment] = list(received.message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_payload(decode=True)) == ("stock.csv", CSV)
    got = await asyncio.to_thread(resend.Emails.get, sent["id"])
    assert got["subject"] == "Stock"
