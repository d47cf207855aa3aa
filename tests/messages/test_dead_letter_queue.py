"""D-8: the dead-letter queue listed, inspected and requeued through the API and the CLI, per tenant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from tests.conftest import TenantKey, make_tenant
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

IEP = str(Path(sys.executable).with_name("iep"))
PAYLOAD = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}


async def _dead_letter_one(api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock) -> str:
    resp = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    assert resp.status_code == 202
    for delay in (0, 60, 300, 900, 3600):
        clock.advance(delay)
        assert await drain(container) == 1
    return str(resp.json()["messageId"])


async def test_list_inspect_and_requeue(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    sink.handler.always_reply = "421 4.7.0 slow down"
    dead = await _dead_letter_one(api, container, tenant, clock)
    ok = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    sink.handler.always_reply = None
    assert await drain(container) == 1  # a message that was simply sent is not in the DLQ

    listed = (await api.get("/v1/dlq", headers=tenant.headers)).json()
    assert [m["messageId"] for m in listed["data"]] == [dead]
    assert ok.json()["messageId"] not in {m["messageId"] for m in listed["data"]}
    shown = (await api.get(f"/v1/dlq/{dead}", headers=tenant.headers)).json()
    assert [e["type"] for e in shown["events"]][-2:] == ["dlq", "failed"]
    not_dead = await api.get(f"/v1/dlq/{ok.json()['messageId']}", headers=tenant.headers)
    assert not_dead.status_code == 404
    assert not_dead.headers["content-type"] == "application/problem+json"

    requeued = await api.post(f"/v1/dlq/{dead}/requeue", headers=tenant.headers)
    assert requeued.status_code == 202, requeued.text
    assert await drain(container) == 1
    after = (await api.get(f"/v1/messages/{dead}", headers=tenant.headers)).json()
    assert after["status"] == "sent"
    assert dead in sink.handler.ids()
    assert (await api.get("/v1/dlq", headers=tenant.headers)).json()["data"] == []
    assert (await api.post(f"/v1/dlq/{dead}/requeue", headers=tenant.headers)).status_code == 404


async def test_another_tenant_cannot_see_or_requeue(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    sink.handler.always_reply = "421 4.7.0 slow down"
    dead = await _dead_letter_one(api, container, tenant, clock)
    other = await make_tenant(container, "other")
    assert (await api.get("/v1/dlq", headers=other.headers)).json()["data"] == []
    missing = await api.get(f"/v1/dlq/{dead}", headers=other.headers)
    assert missing.status_code == 404
    assert (await api.post(f"/v1/dlq/{dead}/requeue", headers=other.headers)).status_code == 404
    assert (await api.get(f"/v1/messages/{dead}", headers=tenant.headers)).json()["status"] == "failed"


async def test_cli_lists_shows_and_requeues(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock, database_url: str
) -> None:
    sink.handler.always_reply = "421 4.7.0 slow down"
    dead = await _dead_letter_one(api, container, tenant, clock)
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "error"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([IEP, "messages", "dlq", *args], env=env, capture_output=True, text=True, timeout=60)

    listed = cli("list", "--tenant", tenant.slug)
    assert listed.returncode == 0, listed.stderr
    assert [m["id"] for m in orjson.loads(listed.stdout)] == [dead]
    shown = cli("show", dead)
    assert shown.returncode == 0
    assert "dlq" in {e["type"] for e in orjson.loads(shown.stdout)["events"]}
    requeued = cli("requeue", dead)
    assert requeued.returncode == 0, requeued.stderr
    again = cli("requeue", dead)
    assert again.returncode != 0
    assert "not in the dead-letter queue" in again.stderr
    shown_after = (await api.get(f"/v1/messages/{dead}", headers=tenant.headers)).json()
    assert shown_after["status"] == "queued"
