"""The `webhooks` role as a real process (`iep run --role webhooks`), SIGKILLed while deliveries are in flight:
after a restart nothing is lost, and every redelivery carries the same `webhook-id` as the first try."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from iep.bootstrap import Container
from iep.messages.models import messages
from iep.tenant_webhooks import service
from iep.tenant_webhooks.models import webhook_events
from tests.conftest import TenantKey
from tests.tenant_webhooks.conftest import ENCRYPTION_KEY, accept, events, register, until
from tests.tenant_webhooks.receiver import Receiver

IEP = str(Path(sys.executable).with_name("iep"))
EVENTS = 40


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen([IEP, "run", "--role", "webhooks"], env=env, stdout=subprocess.DEVNULL, stderr=err)


async def test_sigkill_mid_run_loses_nothing_and_keeps_webhook_ids(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, tmp_path: Path
) -> None:
    receiver = Receiver(hold_seconds=0.4).start()
    try:
        await register(api, tenant, receiver, ["message.sent"])
        now = datetime.now(UTC)  # the role runs on the real clock
        for mid in await accept(api, tenant, EVENTS):
            async with hooks.engine.begin() as conn:
                tid = (await conn.execute(select(messages.c.tenant_id).where(messages.c.id == mid))).scalar_one()
                await service.emit(conn, tenant_id=tid, message_id=mid, event_type="message.sent", data={}, now=now)
        env = {
            **os.environ,
            "DATABASE_URL": hooks.database_url,
            "QUEUE_BACKEND": "postgres",
            "IEP_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_TIMEOUT_SECONDS": "2",
            "WEBHOOK_CONCURRENCY": "8",
            "WORKER_LEASE_SECONDS": "2",
            "LOG_LEVEL": "warning",
        }
        log = tmp_path / "webhooks.log"
        role = _start(env, log)

        async def some_in_flight() -> bool:
            return len(receiver.received) >= 8 and receiver.in_flight > 0

        await until(some_in_flight, seconds=30, what="deliveries in flight")
        role.send_signal(signal.SIGKILL)
        role.wait(10)
        killed_at = len(receiver.received)
        role = _start(env, log)
        try:

            async def all_delivered() -> bool:
                rows = await events(hooks)
                return len(rows) == EVENTS and all(r["status"] == "delivered" for r in rows)

            await until(all_delivered, seconds=60, what=f"all {EVENTS} delivered; role log:\n{log.read_text()[-2000:]}")
        finally:
            role.send_signal(signal.SIGTERM)
            await asyncio.to_thread(role.wait, 30)
    finally:
        receiver.stop()

    rows = await events(hooks)
    expected = {f"evt_{r['id'].hex}" for r in rows}
    ids_by_event: dict[str, set[str]] = defaultdict(set)
    for got in receiver.received:
        assert got.standard_ok
        assert got.iep_ok
        ids_by_event[got.json()["id"]].add(got.headers["webhook-id"])
    assert set(ids_by_event) == expected, "every event reached the receiver"
    assert all(ids == {event} for event, ids in ids_by_event.items()), "a redelivery keeps its webhook-id"
    repeated = len(receiver.received) - len(expected)
    assert repeated >= 1, "the requests in flight at the kill were delivered again"
    assert killed_at < len(receiver.received)
    async with hooks.engine.connect() as conn:
        attempts = (await conn.execute(select(webhook_events.c.attempts))).scalars().all()
    assert max(attempts) >= 2, "an event taken by the killed process was attempted again"
