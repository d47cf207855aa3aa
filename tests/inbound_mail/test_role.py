"""The real process: `iep run --role smtp` takes a bounce at its VERP address and stops cleanly on SIGTERM."""

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

from tests.inbound_mail.conftest import BOUNCE_DOMAIN, CORPUS, verp
from tests.support.smtp_sink import free_port

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


async def test_role_smtp_takes_a_bounce_and_stops(database_url: str, tmp_path: Path) -> None:
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
    message_id = uuid.uuid4()
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
    events = [line for line in lines if line.get("event") == "provider_event"]
    assert [(e["type"], e["bounce"], e["recipient"], e["message_id"]) for e in events] == [
        ("bounced", "hard", "leo@members.example.com", str(message_id))
    ]
    assert lines[-1]["event"] == "stopped"


def test_role_smtp_needs_a_bounce_domain(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "BOUNCE_DOMAIN": "", "STATE_DIR": str(tmp_path)}
    done = subprocess.run([IEP, "run", "--role", "smtp"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "BOUNCE_DOMAIN is required for role smtp" in done.stderr
