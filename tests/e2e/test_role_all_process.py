"""The real process: `iep run --role all` accepts over HTTP, relays through LISTEN/NOTIFY, delivers over SMTP,
and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.smtp_sink import SmtpSink, free_port

IEP = str(Path(sys.executable).with_name("iep"))


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([IEP, "run", "--role", "all"], env=env, stderr=subprocess.PIPE, text=True)


async def test_role_all_delivers_and_stops_on_sigterm(
    container: Container, tenant: TenantKey, sink: SmtpSink, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "SMTP_LISTEN": f"127.0.0.1:{free_port()}",  # role all includes the bounce mailbox
        "REGISTRY_LISTEN": f"127.0.0.1:{free_port()}",  # and the address registry
        "STATE_DIR": str(tmp_path),
    }
    proc = _start(env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            for _ in range(200):
                try:
                    if (await client.get("/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the API never became ready")
            resp = await client.post(
                "/v1/messages",
                json={"to": ["a@example.com"], "from": "x@product.example", "subject": "Live", "textBody": "hi"},
                headers=tenant.headers,
            )
            assert resp.status_code == 202, resp.text
            message_id = resp.json()["messageId"]
            deadline = time.monotonic() + 15
            status = ""
            while time.monotonic() < deadline:
                status = (await client.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()["status"]
                if status == "sent":
                    break
                await asyncio.sleep(0.05)
            assert status == "sent"
            assert sink.handler.ids() == [message_id]
            openapi = (await client.get("/openapi.json")).json()
            assert "/v1/messages" in openapi["paths"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert '"event": "stopped"' in err
