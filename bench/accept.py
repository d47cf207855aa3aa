"""The accept path alone: `iep run --role api` (no relay, no worker) under wrk, 2 KB POSTs, one key per request."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench import loadgen, procs
from bench.payload import send_request


@dataclass
class Api:
    proc: procs.Proc
    base: str


@asynccontextmanager
async def api_role(database_url: str, logs: Path, *, tag: str = "") -> AsyncIterator[Api]:
    port = procs.free_port()
    proc = procs.spawn_role("api", {"DATABASE_URL": database_url, "PORT": str(port)}, logs, tag=tag)
    try:
        base = f"http://127.0.0.1:{port}"
        await procs.wait_http(proc, base + "/ready")
        yield Api(proc, base)
    finally:
        procs.stop(proc)


async def warm(api: Api, *, api_key: str, body: Path, run_id: str) -> None:
    """The first request pays Argon2 once; connections and caches warm up before anything is measured."""
    await run_one(api, api_key=api_key, body=body, connections=16, seconds=1, run_id=f"{run_id}-warm")


async def run_one(
    api: Api, *, api_key: str, body: Path, connections: int, seconds: float, run_id: str
) -> loadgen.WrkResult:
    return await loadgen.run(
        api.base + "/v1/messages",
        connections=connections,
        seconds=seconds,
        method="POST",
        body=body,
        api_key=api_key,
        run_id=f"{run_id}-{connections}",
    )


async def batch(api: Api, *, api_key: str, size: int = 100) -> int | str:
    """Messages per batch request the endpoint accepted, or why the batch endpoint cannot be measured."""
    items = [{**send_request(), "idempotencyKey": f"batch-probe-{os.getpid()}-{i}"} for i in range(size)]
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        resp = await client.post(
            "/v1/messages/batch",
            content=orjson.dumps({"messages": items}),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
    if resp.status_code in (404, 405):
        return "no POST /v1/messages/batch in this build"
    if resp.status_code >= 300:
        return f"the probe got HTTP {resp.status_code}"
    return size
