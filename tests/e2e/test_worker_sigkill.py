"""D6 under fire: SIGKILL the worker process while hundreds of messages are in flight, start it again,
and count what the SMTP server received: every message delivered, none lost, duplicates counted (expected 0)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select

from iep.bootstrap import Container
from iep.messages.models import events, messages
from tests.conftest import TenantKey
from tests.support.pipeline import relay_all
from tests.support.smtp_sink import SmtpSink

MESSAGES = int(os.environ.get("IEP_FAULT_MESSAGES", "500"))
KILLS = int(os.environ.get("IEP_FAULT_KILLS", "2"))
IEP = str(Path(sys.executable).with_name("iep"))


def _start_worker(database_url: str, sink: SmtpSink) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "SMTP_TLS": "none",
        "WORKER_LEASE_SECONDS": "2",
        "WORKER_CONCURRENCY": "16",
        "LOG_LEVEL": "error",
    }
    return subprocess.Popen([IEP, "run", "--role", "worker"], env=env, stdout=subprocess.DEVNULL)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()


async def _wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return False


async def test_sigkill_twice_loses_nothing(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, database_url: str
) -> None:
    accepted: list[str] = []
    for start in range(0, MESSAGES, 50):
        batch = await asyncio.gather(
            *(
                api.post(
                    "/v1/messages",
                    json={
                        "to": [f"user{i}@example.com"],
                        "from": "App <app@product.example>",
                        "subject": f"Message {i}",
                        "textBody": f"Body {i}",
                    },
                    headers=tenant.headers,
                )
                for i in range(start, min(start + 50, MESSAGES))
            )
        )
        assert {r.status_code for r in batch} == {202}
        accepted += [r.json()["messageId"] for r in batch]
    assert await relay_all(container) == MESSAGES

    kills = 0
    worker = _start_worker(database_url, sink)
    try:
        for k in range(KILLS):
            threshold = MESSAGES * (k + 1) // (KILLS + 2)
            assert await _wait_for(lambda t=threshold: len(sink.handler.received) >= t, 60), "worker made no progress"
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            kills += 1
            worker = _start_worker(database_url, sink)
        assert await _wait_for(lambda: len(set(sink.handler.ids())) >= MESSAGES, 120), (
            f"only {len(set(sink.handler.ids()))} of {MESSAGES} delivered"
        )
        # Let any straggler (a re-send after a lease expiry) arrive before counting duplicates.
        await asyncio.sleep(3)
    finally:
        stop_worker(worker)

    received = Counter(sink.handler.ids())
    lost = set(accepted) - set(received)
    duplicated = {mid: n for mid, n in received.items() if n > 1}
    async with container.engine.connect() as conn:
        statuses = dict((await conn.execute(select(messages.c.status, func.count()).group_by(messages.c.status))).all())
        ambiguous = {
            str(m)
            for m in (await conn.execute(select(events.c.message_id).where(events.c.type == "ambiguous"))).scalars()
        }
    print(
        f"\nSIGKILL run: accepted={MESSAGES} kills={kills} delivered={len(received)} lost={len(lost)} "
        f"duplicated={len(duplicated)} ambiguous={len(ambiguous)}"
    )
    assert kills == KILLS
    assert lost == set()
    assert statuses == {"sent": MESSAGES}
    # A duplicate is only possible for a message whose first worker died after SMTP accepted it and
    # before the commit; each such message carries an `ambiguous` event, so none is silent.
    assert set(duplicated) <= ambiguous
