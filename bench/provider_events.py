"""Provider events in: Resend (Standard Webhooks) events POSTed to `iep run --role api`, each one signed and new.

Every request is signed beforehand (one `email.delivered` event each, a fresh svix-id) for a message the bench
marks `sent`, so each one is verified, stored, matched and applied: the whole path a provider's POST takes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from pathlib import Path

import asyncpg
import orjson

from bench import procs
from bench.report import Rate
from bench.stats import percentile

SECRET = "whsec_" + base64.b64encode(b"bench-provider-events-secret-32b").decode()
PATH = "/webhooks/resend"


async def mark_sent(url: str, count: int) -> list[tuple[str, str]]:
    """Turn up to `count` accepted messages into sent ones with a provider id; (provider id, recipient) pairs."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        rows = await conn.fetch(
            """
UPDATE messages SET status = 'sent', provider = 'resend', provider_msg_id = 'bench-' || id::text
WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT $1)
RETURNING provider_msg_id, "to"[1] AS recipient
""",
            count,
        )
    finally:
        await conn.close()
    return [(r["provider_msg_id"], r["recipient"]) for r in rows]


def signed_requests(targets: list[tuple[str, str]], count: int, host: str) -> list[bytes]:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    out = []
    now = int(time.time())
    for n in range(count):
        email_id, recipient = targets[n % len(targets)]
        body = orjson.dumps(
            {
                "type": "email.delivered",
                "created_at": "2026-12-01T00:00:00.000Z",
                "data": {"email_id": email_id, "to": [recipient], "subject": "bench"},
            }
        )
        msg_id = f"msg_{uuid.uuid4().hex}"
        mac = base64.b64encode(hmac.new(key, f"{msg_id}.{now}.".encode() + body, hashlib.sha256).digest()).decode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nsvix-id: {msg_id}\r\n"
            f"svix-timestamp: {now}\r\nsvix-signature: v1,{mac}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


async def _post_all(port: int, requests: list[bytes], connections: int) -> tuple[float, list[float], int]:
    from bench.client import _read_status  # one HTTP/1.1 reader for every bench client

    latencies: list[float] = []
    refused = 0
    queue = iter(requests)

    async def one_connection() -> None:
        nonlocal refused
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for raw in queue:
                started = time.monotonic()
                writer.write(raw)
                status = await _read_status(reader)
                latencies.append((time.monotonic() - started) * 1000)
                refused += status != 200
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return time.monotonic() - started, latencies, refused


async def measure(url: str, logs: Path, *, events: int, connections: int = 16) -> tuple[Rate, int]:
    """Events ingested per second through the endpoint, and how many requests were not answered 200."""
    targets = await mark_sent(url, max(1, events // 5))
    if not targets:
        raise procs.StartRefused("no accepted messages to send events about")
    port = procs.free_port()
    proc = procs.spawn_role(
        "api", {"DATABASE_URL": url, "PORT": str(port), "RESEND_WEBHOOK_SECRET": SECRET}, logs, tag="-events"
    )
    try:
        await procs.wait_http(proc, f"http://127.0.0.1:{port}/ready")
        requests = signed_requests(targets, events, f"127.0.0.1:{port}")
        await _post_all(port, requests[: min(200, events // 10)], connections)  # warm-up, counted out
        elapsed, latencies, refused = await _post_all(port, requests[min(200, events // 10) :], connections)
    finally:
        procs.stop(proc)
    return Rate(len(latencies) / elapsed, "events/s", percentile(latencies, 50), percentile(latencies, 99)), refused
