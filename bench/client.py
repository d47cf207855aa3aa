"""Send exactly N POSTs over keep-alive connections, as fast as they are answered or at a fixed rate.

wrk measures the accept path (a duration, not a count); end-to-end runs need an exact count of messages and,
for latency when not saturated, a paced open-loop rate. This client is raw asyncio HTTP/1.1 so it costs little
CPU next to the server.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class SendStats:
    accepted: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0


def _request(path: str, host: str, api_key: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {api_key}\r\nIdempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_status(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def post_many(
    url: str,
    *,
    api_key: str,
    body: bytes,
    count: int,
    connections: int,
    run_id: str,
    rate: float | None = None,
) -> SendStats:
    """POST `body` `count` times, each with its own Idempotency-Key; `rate` (req/s) paces the whole run."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    stats = SendStats(started=time.monotonic())
    tickets = iter(range(count))

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in tickets:
                if rate is not None:
                    delay = stats.started + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                writer.write(_request(parts.path, parts.netloc, api_key, f"{run_id}-{n}", body))
                status = await _read_status(reader)
                if status == 202:
                    stats.accepted += 1
                else:
                    stats.refused[status] = stats.refused.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    stats.finished = time.monotonic()
    return stats
