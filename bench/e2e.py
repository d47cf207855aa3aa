"""End to end: messages accepted over HTTP and handed to an aiosmtpd sink in its own process.

Roles run as separate processes (api, relay, worker), as a deployment scales them. The accept → handoff latency
of a message is the sink's arrival time minus the message's `created_at` (stamped by the API before commit).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench import client, procs
from bench.ceilings import start_sink
from bench.report import Rate
from bench.stats import percentile

# A separate Redis database keeps the benchmark's keys away from anyone else's.
BROKERS = {
    "REDIS_URL": os.environ.get("IEP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
    "RABBITMQ_URL": os.environ.get("IEP_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/iep_bench"),
}


def _fresh_vhost(url: str) -> None:
    """The benchmark's own RabbitMQ vhost, emptied: no one else's queues, no jobs left from an earlier run."""
    vhost = url.rsplit("/", 1)[1]
    if not vhost or shutil.which("rabbitmqctl") is None:
        return
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, check=False, timeout=60)
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True, check=True, timeout=60)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        capture_output=True,
        check=True,
        timeout=60,
    )


@dataclass
class Pipeline:
    api: procs.Proc
    relay: procs.Proc
    worker: procs.Proc
    sink: procs.Proc
    base: str
    record: Path

    @property
    def roles(self) -> list[procs.Proc]:
        return [self.api, self.relay, self.worker]


@asynccontextmanager
async def pipeline(
    database_url: str, backend: str, logs: Path, *, env: dict[str, str] | None = None
) -> AsyncIterator[Pipeline]:
    """Sink + api + relay + worker on `backend` (with `env`'s settings); raises procs.StartRefused when a role will
    not start."""
    record = logs / f"sink-{backend}.txt"
    record.unlink(missing_ok=True)
    if backend == "rabbitmq":
        await asyncio.to_thread(_fresh_vhost, BROKERS["RABBITMQ_URL"])
    sink, sink_port = await start_sink(logs, record)
    port = procs.free_port()
    env = {
        "DATABASE_URL": database_url,
        "QUEUE_BACKEND": backend,
        "PORT": str(port),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink_port),
        **BROKERS,
        **(env or {}),
    }
    started: list[procs.Proc] = [sink]
    try:
        api = procs.spawn_role("api", env, logs, tag=f"-{backend}")
        started.append(api)
        relay = procs.spawn_role("relay", env, logs, tag=f"-{backend}")
        started.append(relay)
        worker = procs.spawn_role("worker", env, logs, tag=f"-{backend}")
        started.append(worker)
        base = f"http://127.0.0.1:{port}"
        await procs.wait_http(api, base + "/ready")
        await procs.wait_log(relay, "relay_started")
        await procs.wait_log(worker, "worker_started")
        yield Pipeline(api, relay, worker, sink, base, record)
    finally:
        for proc in reversed(started):
            procs.stop(proc)


@dataclass(frozen=True, slots=True)
class Delivered:
    accepted: int
    delivered: int
    seconds: float
    latencies_ms: list[float]

    def rate(self) -> Rate:
        return Rate(
            self.delivered / self.seconds if self.seconds > 0 else 0.0,
            "msgs/s",
            percentile(self.latencies_ms, 50),
            percentile(self.latencies_ms, 99),
        )


def _arrivals(record: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    # Read while the sink writes: a last line without its newline is not whole yet (the next read has it).
    for line in record.read_text().splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        ident, _, stamp = line.rstrip("\n").partition(" ")
        found.setdefault(ident, float(stamp))
    return found


async def _accept_times(database_url: str, run_id: str) -> dict[str, float]:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT id::text, extract(epoch FROM created_at)::float8 AS t FROM messages WHERE idempotency_key LIKE $1",
            f"{run_id}-%",
        )
    finally:
        await conn.close()
    return {r["id"]: r["t"] for r in rows}


async def send_and_wait(
    pipe: Pipeline,
    database_url: str,
    *,
    api_key: str,
    body: bytes,
    count: int,
    connections: int,
    run_id: str,
    rate: float | None = None,
    patience: float = 120.0,
) -> Delivered:
    """Send `count` messages, then wait until the sink has every accepted one (or `patience` runs out)."""
    stats = await client.post_many(
        pipe.base + "/v1/messages",
        api_key=api_key,
        body=body,
        count=count,
        connections=connections,
        run_id=run_id,
        rate=rate,
    )
    accepted = await _accept_times(database_url, run_id)
    deadline = time.monotonic() + patience
    arrived = _arrivals(pipe.record)
    while sum(1 for i in accepted if i in arrived) < len(accepted) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        arrived = _arrivals(pipe.record)
    matched = {i: arrived[i] for i in accepted if i in arrived}
    latencies = sorted((matched[i] - accepted[i]) * 1000 for i in matched)
    seconds = (max(matched.values()) - min(accepted.values())) if matched else 0.0
    return Delivered(stats.accepted, len(matched), seconds, latencies)
