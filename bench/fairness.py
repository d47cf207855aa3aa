"""Fairness: a quiet tenant's accept → handoff latency, alone and while another tenant floods `priority: high`.

The pipeline (api, relay, worker on the postgres backend, the sink) runs once. First tenant B sends paced
messages alone, once to warm the roles up and once measured; then tenant A posts a flood of high-priority
messages as fast as 16 connections allow while B sends the same paced messages again. The figure is B's p99
during the flood against B's p99 alone (the issue's goal: within 2x); A's backlog is what the worker had to get
through meanwhile.

Run alone: `python -m bench.fairness [--flood 5000] [--quiet 100] [--env WORKER_TENANT_CONCURRENCY=8]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson

from bench import client, e2e, payload, scratch
from bench.stats import percentile
from iep.kit.db import create_engine
from iep.sending_domains import repository as sending_domains
from iep.tenancy import service as tenancy

QUIET_RATE = 20.0  # B's messages per second: a product's steady trickle of password resets


@dataclass(frozen=True, slots=True)
class Stages:
    """Where B's flooded messages waited: p50 and p99 of accept → claim (the worker's `processing` event) and of
    claim → handoff (the sink's arrival), in ms."""

    to_claim: tuple[float, float]
    to_handoff: tuple[float, float]

    def describe(self) -> str:
        (c50, c99), (h50, h99) = self.to_claim, self.to_handoff
        return f"accept → claim p50 {c50:.1f} / p99 {c99:.1f} ms; claim → handoff p50 {h50:.1f} / p99 {h99:.1f} ms"


@dataclass(frozen=True, slots=True)
class Fairness:
    alone_p99_ms: float
    flooded_p99_ms: float
    flood_accepted: int
    quiet_delivered: int
    alone_stages: Stages | None = None
    flooded_stages: Stages | None = None

    @property
    def ratio(self) -> float:
        return self.flooded_p99_ms / self.alone_p99_ms if self.alone_p99_ms else float("inf")


async def flooding_tenant(url: str) -> str:
    """A second tenant with its own verified domain and key: the one that floods."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            tenant = await tenancy.create_tenant(conn, name="Flood", slug="flood")
            await sending_domains.insert_domain(conn, tenant["id"], scratch.SENDER_DOMAIN, verified=True)
            _, key = await tenancy.create_key(conn, tenant_slug="flood", scopes=["send", "read"])
    finally:
        await engine.dispose()
    return key


async def _quiet_p99(pipe: e2e.Pipeline, url: str, api_key: str, count: int, run_id: str) -> tuple[float, int]:
    done = await e2e.send_and_wait(
        pipe,
        url,
        api_key=api_key,
        body=orjson.dumps(payload.send_request()),
        count=count,
        connections=2,
        run_id=run_id,
        rate=QUIET_RATE,
        patience=600,
    )
    return percentile(done.latencies_ms, 99) or 0.0, done.delivered


async def measure(
    url: str, quiet_key: str, logs: Path, *, flood: int, quiet: int, env: dict[str, str] | None = None
) -> Fairness:
    flood_key = await flooding_tenant(url)
    high = orjson.dumps({**payload.send_request(), "priority": "high"})
    async with e2e.pipeline(url, "postgres", logs, env=env) as pipe:
        # Warm first: the roles' first messages open connections and warm caches and render processes, which would
        # inflate the unloaded figure (p99 ~100 ms cold against ~20 ms warm) and flatter the ratio.
        await _quiet_p99(pipe, url, quiet_key, quiet, "fair-warm-up")
        alone, _ = await _quiet_p99(pipe, url, quiet_key, quiet, "fair-alone")
        flooding = asyncio.create_task(
            client.post_many(
                pipe.base + "/v1/messages", api_key=flood_key, body=high, count=flood, connections=16, run_id="flood"
            )
        )
        await asyncio.sleep(1.0)  # the flood is under way, its backlog growing, before B sends
        flooded, delivered = await _quiet_p99(pipe, url, quiet_key, quiet, "fair-flooded")
        stats = await flooding
        arrived = e2e._arrivals(pipe.record)
        stages = [await _stages(url, run_id, arrived) for run_id in ("fair-alone", "fair-flooded")]
    return Fairness(alone, flooded, stats.accepted, delivered, *stages)


async def _stages(url: str, run_id: str, arrived: dict[str, float]) -> Stages:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        rows = await conn.fetch(
            """SELECT m.id::text AS id, extract(epoch FROM m.created_at)::float8 AS accepted,
                 extract(epoch FROM min(e.created_at))::float8 AS claimed
               FROM messages m JOIN events e ON e.message_id = m.id AND e.type = 'processing'
               WHERE m.idempotency_key LIKE $1 GROUP BY m.id""",
            f"{run_id}-%",
        )
    finally:
        await conn.close()
    to_claim = [(r["claimed"] - r["accepted"]) * 1000 for r in rows]
    to_handoff = [(arrived[r["id"]] - r["claimed"]) * 1000 for r in rows if r["id"] in arrived]

    def p(values: list[float], q: float) -> float:
        return percentile(sorted(values), q) or 0.0

    return Stages((p(to_claim, 50), p(to_claim, 99)), (p(to_handoff, 50), p(to_handoff, 99)))


async def main(args: argparse.Namespace) -> int:
    logs = Path(tempfile.mkdtemp(prefix="iep-fairness-"))
    async with scratch.database("fair") as url:
        sender = await scratch.prepare_iep(url)
        env = dict(setting.split("=", 1) for setting in args.env)
        result = await measure(url, sender.api_key, logs, flood=args.flood, quiet=args.quiet, env=env)
    print(
        f"tenant B alone, {args.quiet} messages at {QUIET_RATE:g}/s: p99 accept → handoff {result.alone_p99_ms:.1f} ms"
    )
    print(
        f"tenant B while tenant A floods {result.flood_accepted:,} priority: high: p99 {result.flooded_p99_ms:.1f} ms "
        f"({result.ratio:.2f}× alone; goal ≤ 2×), {result.quiet_delivered} of {args.quiet} delivered"
    )
    if result.alone_stages is not None and result.flooded_stages is not None:
        print(f"tenant B alone: {result.alone_stages.describe()}")
        print(f"tenant B while flooded: {result.flooded_stages.describe()}")
    print(f"logs: {logs}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood", type=int, default=5000)
    parser.add_argument("--quiet", type=int, default=100)
    parser.add_argument("--env", action="append", default=[], help="a setting of every role, NAME=value (repeatable)")
    sys.exit(asyncio.run(main(parser.parse_args())))
