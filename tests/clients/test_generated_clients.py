"""P8: the clients generated from the OpenAPI document (clients/python, clients/typescript; `make clients`) send a
message and read it back against a running IEP."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

CLIENTS = Path(__file__).resolve().parents[2] / "clients"


def _python_client() -> Any:
    """The generated package, imported from the checkout (it is not installed into IEP's own environment)."""
    if str(CLIENTS / "python") not in sys.path:
        sys.path.insert(0, str(CLIENTS / "python"))
    return importlib.import_module("iep_client")


async def test_python_client_sends_and_reads(
    served: str, tenant: TenantKey, container: Container, sink: SmtpSink
) -> None:
    client_pkg = _python_client()
    send = importlib.import_module("iep_client.api.messages.send_message")
    get = importlib.import_module("iep_client.api.messages.get_message")
    batch = importlib.import_module("iep_client.api.messages.send_batch")
    models = importlib.import_module("iep_client.models")

    body = models.SendRequest(
        from_=models.Sender(email="app@product.example", name="Typed"),
        to=["py@example.com"],
        subject="From the Python client",
        text_body="typed",
        tags=["generated"],
    )
    async with client_pkg.AuthenticatedClient(base_url=served, token=tenant.key) as client:
        accepted = await send.asyncio(client=client, body=body)
        assert isinstance(accepted, models.Accepted), accepted
        message = await get.asyncio(client=client, message_id=accepted.message_id)
        assert isinstance(message, models.MessageOut), message
        assert message.to == ["py@example.com"]
        assert message.subject == "From the Python client"
        assert message.from_.name == "Typed"
        refused = await send.asyncio(client=client, body=models.SendRequest.from_dict({**body.to_dict(), "to": ["x"]}))
        assert isinstance(refused, models.Problem)
        assert refused.status == 422
        results = await batch.asyncio(client=client, body=models.BatchRequest(messages=[body, body]))
        assert isinstance(results, models.BatchOut)
        assert results.accepted == 2
    await drain(container)
    assert [r.message["Subject"] for r in sink.handler.received] == ["From the Python client"] * 3


async def test_typescript_client_compiles_sends_and_reads(
    served: str, tenant: TenantKey, container: Container, sink: SmtpSink
) -> None:
    here = CLIENTS / "typescript"
    assert (here / "node_modules" / "openapi-fetch").is_dir(), "`make install` installs clients/typescript's packages"
    tsc = await asyncio.create_subprocess_exec(
        "node", "node_modules/typescript/bin/tsc", "-p", ".", cwd=here,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(tsc.communicate(), timeout=120)
    assert tsc.returncode == 0, out.decode()
    env = {**os.environ, "IEP_URL": served, "IEP_KEY": tenant.key}
    run = await asyncio.create_subprocess_exec(
        "node", "dist/examples/send.js", cwd=here, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(run.communicate(), timeout=60)
    assert run.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["got"]["messageId"] == result["sent"]["messageId"]
    assert result["got"]["subject"] == "From TypeScript"
    await drain(container)
    assert [r.rcpt_tos for r in sink.handler.received] == [["ts@example.com"]]
