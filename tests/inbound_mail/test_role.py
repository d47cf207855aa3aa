"""The real process: `iep run --role smtp` takes a bounce at its VERP address, stores it and bounces the message it
names (the same path as provider webhooks), and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiosmtplib
import httpx

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.inbound_mail.conftest import BOUNCE_DOMAIN, CORPUS, verp
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink, free_port

IEP = str(Path(sys.executable).with_name("iep"))


async def _connect(port: int) -> aiosmtplib.SMTP:
    for _ in range(200):
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5, start_tls=False)
        try:
            await client.connect()
            return client
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("the smtp role never listened")


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([IEP, "run", "--role", "smtp"], env=env, stderr=subprocess.PIPE, text=True)


async def test_role_smtp_takes_a_bounce_and_stops(
    api: httpx.AsyncClient,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    database_url: str,
    tmp_path: Path,
) -> None:
    sent = await api.post(
        "/v1/messages",
        json={"to": ["leo@members.example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"},
        headers=tenant.headers,
    )
    message_id = uuid.UUID(sent.json()["messageId"])
    assert await drain(container) == 1
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BOUNCE_DOMAIN": BOUNCE_DOMAIN,
        "SMTP_LISTEN": f"127.0.0.1:{port}",
        "STATE_DIR": str(tmp_path),
        "LOG_JSON": "true",
    }
    proc = _start(env)
    try:
        client = await _connect(port)
        async with client:
            await client.mail("")
            await client.rcpt(verp(message_id))
            reply = await client.data((CORPUS / "qmail-user-unknown.eml").read_bytes())
        assert reply.code == 250
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    [stored] = [line for line in lines if line.get("event") == "report_stored"]
    assert (stored["stored"], stored["matched"], stored["statusChanges"]) == (1, 1, 1)
    assert lines[-1]["event"] == "stopped"
    shown = (await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
    assert shown["status"] == "bounced"
    [bounced] = [e["payload"] for e in shown["events"] if e["type"] == "bounced"]
    assert (bounced["recipient"], bounced["bounce"], bounced["provider"]) == ("leo@members.example.com", "hard", "smtp")


def test_role_smtp_needs_a_bounce_domain(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "BOUNCE_DOMAIN": "", "STATE_DIR": str(tmp_path)}
    done = subprocess.run([IEP, "run", "--role", "smtp"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "BOUNCE_DOMAIN is required for role smtp" in done.stderr
