"""Directory creates: POST /v1/users to `iep run --role api`, each one checked with `iep run --role registry` over
HTTP (the uniqueness lookup) before its commit, every address new so none is suffixed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson

from bench import procs
from bench.client import _read_status  # one HTTP/1.1 reader for every bench client
from bench.report import Rate
from bench.stats import percentile

PATH = "/v1/users"
CONNECTIONS = 16


def requests(api_key: str, host: str, count: int, run_id: str) -> list[bytes]:
    out = []
    for n in range(count):
        body = orjson.dumps({"name": f"Bench {n}", "primary": f"u{n}.{run_id}@bench.example"})
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


async def _post_all(port: int, batch: list[bytes], connections: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    refused = 0
    pending = iter(batch)

    async def one_connection() -> None:
        nonlocal refused
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for raw in pending:
                started = time.monotonic()
                writer.write(raw)
                status = await _read_status(reader)
                latencies.append((time.monotonic() - started) * 1000)
                refused += status != 201
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return time.monotonic() - started, latencies, refused


async def measure(url: str, api_key: str, logs: Path, *, users: int, run_id: str) -> tuple[Rate, int]:
    """User creates per second with the registry check, and how many were not answered 201."""
    registry_port, api_port = procs.free_port(), procs.free_port()
    registry = procs.spawn_role(
        "registry", {"DATABASE_URL": url, "REGISTRY_LISTEN": f"127.0.0.1:{registry_port}"}, logs, tag="-users"
    )
    api = None
    try:
        await procs.wait_http(registry, f"http://127.0.0.1:{registry_port}/ready")
        api = procs.spawn_role(
            "api",
            {"DATABASE_URL": url, "PORT": str(api_port), "REGISTRY_URL": f"http://127.0.0.1:{registry_port}"},
            logs,
            tag="-users",
        )
        await procs.wait_http(api, f"http://127.0.0.1:{api_port}/ready")
        batch = requests(api_key, f"127.0.0.1:{api_port}", users, run_id)
        warm = min(100, users // 10)
        await _post_all(api_port, batch[:warm], CONNECTIONS)  # Argon2 once, pools filled; counted out
        elapsed, latencies, refused = await _post_all(api_port, batch[warm:], CONNECTIONS)
    finally:
        if api is not None:
            procs.stop(api)
        procs.stop(registry)
    return Rate(len(latencies) / elapsed, "users/s", percentile(latencies, 50), percentile(latencies, 99)), refused
