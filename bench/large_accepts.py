"""Other requests' latency while large templated bodies are being accepted, beside the same latency without them.

A send with ~900 KB of inline Handlebars is parsed at accept; if that parse ran on the API's event loop, every
other request of the process would wait for it (an 8.4 MB body once held the loop for 21 s). Small authenticated
GETs are timed one after another, first alone, then while `LARGE_AT_ONCE` clients keep posting large bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx

from bench import procs
from bench.report import Rate
from bench.stats import percentile

LARGE_AT_ONCE = 4
LARGE_CHARS = 900_000


def large_body() -> dict[str, object]:
    unit = "<p>{{{name}}} {{#if vip}}VIP{{/if}}</p>\n"
    return {
        "to": ["user@example.com"],
        "from": "Bench <bench@bench.example>",
        "subject": "Large {{name}}",
        "htmlBody": unit * (LARGE_CHARS // len(unit)),
        "variables": {"name": "Ada", "vip": True},
    }


async def _probe(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.monotonic()
        resp = await client.get("/v1/messages", params={"limit": 1}, headers=headers)
        latencies.append((time.monotonic() - started) * 1000)
        resp.raise_for_status()
    return latencies


async def measure(url: str, api_key: str, logs: Path, *, probes: int) -> tuple[Rate, Rate, int]:
    """(probe latency alone, probe latency beside large accepts, large bodies accepted meanwhile)."""
    port = procs.free_port()
    proc = procs.spawn_role("api", {"DATABASE_URL": url, "PORT": str(port)}, logs, tag="-large")
    headers = {"Authorization": f"Bearer {api_key}"}
    body = large_body()
    accepted = 0
    stop = asyncio.Event()

    async def post_large(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not stop.is_set():
            resp = await client.post("/v1/messages", json=body, headers=headers)
            accepted += resp.status_code == 202

    try:
        await procs.wait_http(proc, f"http://127.0.0.1:{port}/ready")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            await _probe(client, headers, 20)  # warm-up: key verified and cached, connections open
            alone = await _probe(client, headers, probes)
            senders = [asyncio.create_task(post_large(client)) for _ in range(LARGE_AT_ONCE)]
            await asyncio.sleep(0.5)
            beside = await _probe(client, headers, probes)
            stop.set()
            for task in senders:
                with contextlib.suppress(httpx.HTTPError):
                    await task
    finally:
        procs.stop(proc)

    def rate(latencies: list[float]) -> Rate:
        total = sum(latencies) / 1000
        return Rate(len(latencies) / total, "GETs/s", percentile(latencies, 50), percentile(latencies, 99))

    return rate(alone), rate(beside), accepted
