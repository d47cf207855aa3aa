"""A11: Resend's official Node SDK (npm `resend`, unmodified; only the base URL and key changed) sends single,
batch and attachments with an idempotency key through IEP to an SMTP server, and reads the email back."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")


@pytest.fixture
def node() -> str:
    if NODE is None or not (HERE / "node_modules" / "resend").is_dir():
        pytest.fail("node and tests/resend_sdk/node_modules are needed: `make install` installs them")
    return NODE


async def test_node_sdk_sends_and_reads_back(
    node: str, served: str, tenant: TenantKey, container: Container, sink: SmtpSink
) -> None:
    env = {**os.environ, "RESEND_BASE_URL": served, "RESEND_API_KEY": tenant.key}
    proc = await asyncio.create_subprocess_exec(
        node, str(HERE / "send.mjs"), cwd=HERE, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    first, again, batch, got, refused = (result[k] for k in ("first", "again", "batch", "got", "refused"))
    assert [first["error"], again["error"], batch["error"]] == [None, None, None]
    assert again["data"]["id"] == first["data"]["id"]
    assert len(batch["data"]["data"]) == 2
    assert got["data"]["id"] == first["data"]["id"]
    assert got["data"]["from"] == "Acme <app@product.example>"
    assert got["data"]["reply_to"] == ["help@product.example"]
    assert got["data"]["tags"] == [{"name": "source", "value": "node"}]
    assert refused["data"] is None
    assert refused["error"]["name"] == "validation_error"
    assert refused["error"]["statusCode"] == 422
    assert "`from`" in refused["error"]["message"]

    await drain(container)
    by_rcpt = {r.rcpt_tos[0]: r.message for r in sink.handler.received}
    assert sorted(by_rcpt) == ["batch0@example.com", "batch1@example.com", "node@example.com"]
    mail = by_rcpt["node@example.com"]
    assert mail["Subject"] == "From Node"
    assert "<b>Node</b>" in mail.get_body(("html",)).get_content()
    [attachment] = list(mail.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("data.csv", "a,b\n1,2\n")
