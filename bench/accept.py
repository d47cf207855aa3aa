"""The accept path alone: `iep run --role api` (no relay, no worker) under wrk, 2 KB POSTs, one key per request."""

from __future__ import annotations

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
async def api_role(
    database_url: str, logs: Path, *, tag: str = "", env: dict[str, str] | None = None
) -> AsyncIterator[Api]:
    port = procs.free_port()
    proc = procs.spawn_role("api", {"DATABASE_URL": database_url, "PORT": str(port), **(env or {})}, logs, tag=tag)
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


BATCH_PATH = "/v1/messages/batch"
BATCH_SIZE = 100


def batch_body(size: int = BATCH_SIZE) -> bytes:
    """`{"messages": [...]}` of `size` copies of the 2 KB request (each a new message: no idempotency keys)."""
    return orjson.dumps({"messages": [send_request() for _ in range(size)]})


async def batch_probe(api: Api, *, api_key: str) -> str | None:
    """None when the batch endpoint takes the body; otherwise why its rate cannot be measured."""
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        resp = await client.post(
            BATCH_PATH,
            content=batch_body(2),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
    if resp.status_code in (404, 405):
        return f"no POST {BATCH_PATH} in this build"
    if resp.status_code >= 300:
        return f"the probe got HTTP {resp.status_code}; adapt bench/accept.py batch_body to the endpoint"
    return None


async def batch_rate(api: Api, *, api_key: str, body: Path, seconds: float, run_id: str) -> loadgen.WrkResult:
    return await loadgen.run(
        api.base + BATCH_PATH,
        connections=16,
        seconds=seconds,
        method="POST",
        body=body,
        api_key=api_key,
        run_id=f"{run_id}-batch",
    )
