"""Tenant webhooks delivered per second by `iep run --role webhooks` to a local receiver, beside the receiver's
own rate from a bare httpx loop (the same body, the same concurrency) measured in the same run."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench import procs
from bench.report import Rate
from iep.kit.crypto import KeyRing
from iep.kit.db import create_engine
from iep.tenant_webhooks import service
from iep.tenant_webhooks.schemas import EndpointCreate
from iep.tenant_webhooks.ssrf import Guard, parse_cidrs

CONCURRENCY = 16
BODY = (
    b'{"id":"evt_0","event":"message.sent","messageId":"0","tenantId":"0","timestamp":"2026-01-01T00:00:00.000Z",'
    b'"data":{"to":["user@example.com"],"subject":"Reset your password","provider":"smtp","attempts":1}}'
)


async def ceiling(url: str, count: int) -> Rate:
    """The receiver's rate from a bare httpx loop: no database, no signing, no guard."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        todo = iter(range(count))

        async def one_connection() -> None:
            for _ in todo:
                (await client.post(url, content=BODY, headers={"content-type": "application/json"})).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(CONCURRENCY)))
        return Rate(count / (time.perf_counter() - started), "req/s")


async def _endpoint(database_url: str, url: str, key: str) -> None:
    """The bench tenant's endpoint, registered through the service (secret encrypted as the API would)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            tenant_id = (await conn.exec_driver_sql("SELECT id FROM tenants WHERE slug = 'bench'")).scalar_one()
            await service.create_endpoint(
                conn,
                tenant_id,
                EndpointCreate(url=url, events=["message.sent"]),
                guard=Guard(allow_http=True, allowed=parse_cidrs("127.0.0.0/8")),
                keyring=KeyRing.parse(key),
                now=datetime.now(UTC),
            )
    finally:
        await engine.dispose()


async def _owe(database_url: str, count: int) -> None:
    """`count` events owed at once (as `emit` would write them after as many sends)."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await conn.execute(
            """
INSERT INTO webhook_events (id, tenant_id, endpoint_id, message_id, event_type, data, next_attempt_at)
SELECT gen_random_uuid(), e.tenant_id, e.id, gen_random_uuid(), 'message.sent',
  '{"to": ["user@example.com"], "subject": "Reset your password", "provider": "smtp", "attempts": 1}', now()
FROM webhook_endpoints e, generate_series(1, $1)
""",
            count,
        )
    finally:
        await conn.close()


async def _delivered(database_url: str) -> int:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        value: int = await conn.fetchval("SELECT count(*) FROM webhook_events WHERE status = 'delivered'")
        return value
    finally:
        await conn.close()


async def measure(database_url: str, logs: Path, count: int) -> tuple[Rate, Rate]:
    """(the webhooks role's deliveries/s, the receiver's ceiling), both to the same receiver process."""
    port = procs.free_port()
    receiver = procs.spawn("webhook-receiver", [sys.executable, "-m", "bench.webhook_receiver", str(port)], {}, logs)
    key = f"bench:{KeyRing.generate_key()}"
    url = f"http://127.0.0.1:{port}/hooks"
    role = None
    try:
        await procs.wait_log(receiver, "receiver_ready")
        bare = await ceiling(url, count)
        await _endpoint(database_url, url, key)
        env = {
            "DATABASE_URL": database_url,
            "IEP_ENCRYPTION_KEY": key,
            "WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_CONCURRENCY": str(CONCURRENCY),
            "LOG_LEVEL": "info",
        }
        role = procs.spawn_role("webhooks", env, logs, tag=f"-{uuid.uuid4().hex[:6]}")
        await procs.wait_log(role, "webhook_worker_started")
        started = time.perf_counter()
        await _owe(database_url, count)
        while await _delivered(database_url) < count:
            if role.popen.poll() is not None:
                raise procs.StartRefused(role.last_words())
            await asyncio.sleep(0.05)
        return Rate(count / (time.perf_counter() - started), "webhooks/s"), bare
    finally:
        if role is not None:
            procs.stop(role)
        procs.stop(receiver)
