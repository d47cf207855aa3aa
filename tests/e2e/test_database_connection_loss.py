"""Workers survive their database connections being killed (pg_terminate_backend) mid-run: nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import func, select

from iep.bootstrap import Container
from iep.kit.db import asyncpg_dsn
from iep.messages.models import events, messages
from tests.conftest import TenantKey
from tests.support.accepted import committed
from tests.support.smtp_sink import SmtpSink

MESSAGES = 300
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


async def _terminate_other_backends(database_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(killed)
    finally:
        await conn.close()


async def test_worker_rides_out_killed_connections(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, database_url: str
) -> None:
    for start in range(0, MESSAGES, 50):
        batch = await asyncio.gather(
            *(
                api.post(
                    "/v1/messages",
                    json={"to": [f"u{i}@example.com"], "from": "a@product.example", "subject": f"{i}", "textBody": "x"},
                    headers=tenant.headers,
                )
                for i in range(start, start + 50)
            )
        )
        assert {r.status_code for r in batch} == {202}
    assert await committed(container) == (MESSAGES, MESSAGES, MESSAGES), "each message with its event and job"

    worker = _start_worker(database_url, sink)
    terminated = 0
    try:
        for threshold in (MESSAGES // 4, MESSAGES // 2):
            assert await _wait_for(lambda t=threshold: len(sink.handler.received) >= t, 60)
            terminated += await _terminate_other_backends(database_url)
        assert await _wait_for(lambda: len(set(sink.handler.ids())) >= MESSAGES, 120), (
            f"{len(set(sink.handler.ids()))} of {MESSAGES} delivered"
        )
        assert worker.poll() is None, "the worker process is still alive"
        # A send whose record was cut off by the kill is taken over after its lease: wait for the records too.
        pending = -1
        for _ in range(300):
            async with container.engine.connect() as conn:
                pending = (
                    await conn.execute(select(func.count()).select_from(messages).where(messages.c.status != "sent"))
                ).scalar_one()
            if pending == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        stop_worker(worker)

    received = Counter(sink.handler.ids())
    async with container.engine.connect() as conn:
        ambiguous = {
            str(m)
            for m in (await conn.execute(select(events.c.message_id).where(events.c.type == "ambiguous"))).scalars()
        }
    duplicated = {m for m, n in received.items() if n > 1}
    print(
        f"\nconnection-loss run: accepted={MESSAGES} terminated={terminated} delivered={len(received)} "
        f"duplicated={len(duplicated)} ambiguous={len(ambiguous)} exit={worker.returncode}"
    )
    assert terminated > 0
    assert len(received) == MESSAGES
    assert pending == 0
    assert duplicated <= ambiguous
    assert worker.returncode == 0, "SIGTERM after the run stops the worker cleanly"
