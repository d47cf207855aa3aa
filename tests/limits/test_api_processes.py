"""S3 across replicas: 1,000 concurrent sends against `max_per_minute` 100 over two real `iep run --role api`
processes sharing Redis accept exactly 100 (and over one process without Redis, the same)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from iep.bootstrap import Container
from iep.kit.clock import SystemClock
from iep.kit.problems import PROBLEM_BASE
from iep.limits import service as limits_service
from tests.conftest import make_tenant
from tests.limits.conftest import message
from tests.support.brokers import redis_prefix
from tests.support.smtp_sink import free_port

IEP = str(Path(sys.executable).with_name("iep"))
SENDS = 1000
LIMIT = 100


@contextmanager
def api_processes(count: int, env: dict[str, str], tmp_path: Path) -> Iterator[list[str]]:
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    urls = []
    try:
        for i in range(count):
            port = free_port()
            log = tmp_path / f"api-{i}.log"
            with log.open("wb") as err:
                proc = subprocess.Popen(
                    [IEP, "run", "--role", "api"],
                    env={**env, "PORT": str(port), "STATE_DIR": str(tmp_path / f"state-{i}")},
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            procs.append((proc, log))
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, log in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            assert proc.returncode == 0, log.read_text()[-2000:]


async def wait_ready(client: httpx.AsyncClient, url: str) -> None:
    for _ in range(300):
        try:
            if (await client.get(f"{url}/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


async def away_from_a_minute_boundary() -> None:
    # The processes count in real calendar minutes: start early in one, so every send falls in it.
    second = datetime.now(UTC).second
    if second >= 45:
        await asyncio.sleep(60 - second + 0.2)


def hits(body: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "iep_rate_limit_hits_total" and s.labels["kind"] == "minute"
    )


@pytest.mark.parametrize(
    ("processes", "shared"), [(2, True), (1, False)], ids=["2-processes-redis", "1-process-memory"]
)
async def test_concurrent_sends_over_api_processes_accept_exactly_the_limit(
    container: Container, database_url: str, redis_url: str, tmp_path: Path, processes: int, shared: bool
) -> None:
    tenant = await make_tenant(container, "shared")
    async with container.engine.begin() as conn:
        await limits_service.update_limits(conn, "shared", {"max_per_minute": LIMIT}, SystemClock().now())
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SERVICE_ROLE", "QUEUE_BACKEND"}}
    env |= {"DATABASE_URL": database_url, "LOG_LEVEL": "warning"}
    if shared:
        env["REDIS_URL"] = redis_url
        env["REDIS_KEY_PREFIX"] = f"{redis_prefix()}:"  # this run's counters, apart from other tests'

    with api_processes(processes, env, tmp_path) as urls:
        limits = httpx.Limits(max_connections=100 * processes)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            for url in urls:
                await wait_ready(client, url)
                # Each process verifies the key once (Argon2) before the burst, as a warm replica would have.
                warm = await client.get(f"{url}/v1/usage", headers=tenant.headers)
                assert warm.status_code == 200, warm.text
            await away_from_a_minute_boundary()

            async def send(i: int) -> httpx.Response:
                return await client.post(f"{urls[i % processes]}/v1/messages", json=message(i), headers=tenant.headers)

            first_minute = datetime.now(UTC).replace(second=0, microsecond=0)
            answers = await asyncio.gather(*(send(i) for i in range(SENDS)))
            minutes = int((datetime.now(UTC) - first_minute).total_seconds() // 60) + 1
            metrics = [(await client.get(f"{url}/metrics")).text for url in urls]

    accepted = [r for r in answers if r.status_code == 202]
    refused = [r for r in answers if r.status_code == 429]
    assert len(accepted) + len(refused) == SENDS, {r.status_code for r in answers}
    # At most the limit in each calendar minute the sends spanned; exactly the limit when they fit in one (the
    # usual case: a busy machine may stretch 1,000 sends past a minute's end).
    assert LIMIT <= len(accepted) <= LIMIT * minutes
    if minutes == 1:
        assert len(accepted) == LIMIT
        assert sorted(int(r.headers["RateLimit-Remaining"]) for r in accepted) == list(range(LIMIT))
    if processes == 2:  # both replicas took part
        assert {str(r.url).rsplit("/v1", 1)[0] for r in answers} == set(urls)
    for resp in accepted:
        assert resp.headers["RateLimit-Limit"] == str(LIMIT)
        assert 0 <= int(resp.headers["RateLimit-Remaining"]) < LIMIT
    for resp in refused:
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["type"] == PROBLEM_BASE + "rate-limited"
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        assert resp.headers["RateLimit-Limit"] == str(LIMIT)
        assert resp.headers["RateLimit-Remaining"] == "0"
        assert resp.headers["RateLimit-Reset"] == resp.headers["Retry-After"]
    assert sum(hits(body) for body in metrics) == len(refused)
    async with container.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT count(m.id) FROM messages m JOIN tenants t ON t.id = m.tenant_id WHERE t.slug = 'shared'")
            )
        ).scalar_one()
    assert stored == len(accepted)
