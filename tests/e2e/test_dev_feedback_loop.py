"""`iep run --role dev` shows the whole feedback loop with one curl each: mail to the simulator addresses comes
back delivered, bounced or complained about; a complaint and enough hard bounces suppress the address; a tenant
webhook registered on this machine receives every change, signed (verified with `standardwebhooks`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.smtp_sink import free_port
from tests.tenant_webhooks.receiver import Receiver

IEP = str(Path(sys.executable).with_name("iep"))
SIM = "simulator.iep.dev"
EVENTS = ["message.sent", "message.delivered", "message.bounced", "message.complained", "message.suppressed"]


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([IEP, "run", "--role", "dev"], env=env, stderr=subprocess.DEVNULL, text=True)


@pytest.fixture
async def dev(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "STATE_DIR": str(tmp_path),
        "SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "REGISTRY_LISTEN": f"127.0.0.1:{free_port()}",
        "IEP_ENCRYPTION_KEY": "",
    }
    proc = _start(env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(300):
                key_file = tmp_path / "demo-key"
                try:
                    if (await client.get("/ready")).status_code == 200 and key_file.exists():
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("role dev never became ready")
            yield client, {"Authorization": f"Bearer {key_file.read_text().strip()}"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


async def _send(client: httpx.AsyncClient, headers: dict[str, str], to: str) -> str:
    body = {"to": [to], "from": "hello@demo.example", "subject": "Loop", "textBody": "x"}
    resp = await client.post("/v1/messages", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["messageId"])


async def _status(client: httpx.AsyncClient, headers: dict[str, str], message_id: str, want: str) -> str:
    deadline = time.monotonic() + 20
    status = ""
    while time.monotonic() < deadline:
        status = (await client.get(f"/v1/messages/{message_id}", headers=headers)).json()["status"]
        if status == want:
            break
        await asyncio.sleep(0.1)
    return status


async def test_simulated_outcomes_suppress_and_reach_a_signed_webhook(
    dev: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = dev
    receiver = Receiver().start()
    try:
        hook = await client.post("/v1/webhooks", json={"url": receiver.url, "events": EVENTS}, headers=headers)
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]

        delivered = await _send(client, headers, f"delivered@{SIM}")
        assert await _status(client, headers, delivered, "delivered") == "delivered"
        complained = await _send(client, headers, f"complained@{SIM}")
        assert await _status(client, headers, complained, "complained") == "complained"
        again = await _send(client, headers, f"complained@{SIM}")
        assert await _status(client, headers, again, "suppressed") == "suppressed"
        for _ in range(3):  # SUPPRESS_AFTER_HARD_BOUNCES (3) hard bounces in a row
            bounced = await _send(client, headers, f"bounced@{SIM}")
            assert await _status(client, headers, bounced, "bounced") == "bounced"
        after = await _send(client, headers, f"bounced@{SIM}")
        assert await _status(client, headers, after, "suppressed") == "suppressed"

        listed = (await client.get("/v1/suppressions", headers=headers)).json()["data"]
        assert {(s["email"], s["reason"]) for s in listed} == {
            (f"complained@{SIM}", "complaint"),
            (f"bounced@{SIM}", "hard_bounce"),
        }
        wanted = {
            (delivered, "message.delivered"),
            (complained, "message.complained"),
            (again, "message.suppressed"),
            (bounced, "message.bounced"),
            (after, "message.suppressed"),
        }
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = {(r.json()["messageId"], r.json()["event"]) for r in receiver.received}
            if wanted <= got:
                break
            await asyncio.sleep(0.1)
        assert wanted <= got, wanted - got
        assert all(r.standard_ok and r.iep_ok for r in receiver.received)
    finally:
        receiver.stop()
