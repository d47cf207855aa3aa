"""Counts stay right with several processes of a role: every process serves its own /metrics (METRICS_PORT) and
Prometheus adds them up. Two real `iep run --role worker` processes share one queue; after N sends the scraped
iep_messages_total{status="sent"} of both sums to N."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.pipeline import relay_all
from tests.support.smtp_sink import SmtpSink, free_port

N = 40


def _sent(body: str, tenant: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "iep_messages_total" and s.labels["status"] == "sent" and s.labels["tenant"] == tenant
    )


@pytest.fixture
def workers(database_url: str, sink: SmtpSink, tmp_path: Path) -> Iterator[list[int]]:
    ports = [free_port(), free_port()]
    procs = []
    for i, port in enumerate(ports):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "QUEUE_BACKEND": "postgres",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "SMTP_TLS": "none",
            "DEFAULT_PROVIDER": "smtp",
            "METRICS_PORT": str(port),
            "WORKER_CONCURRENCY": "4",
            "TEMPLATES_SOURCE_DIR": str(tmp_path / "templates"),
            "TEMPLATES_DIST_DIR": str(tmp_path / f"dist{i}"),
            "LOG_LEVEL": "warning",
        }
        with (tmp_path / f"worker{i}.log").open("wb") as log:
            procs.append(
                subprocess.Popen([sys.executable, "-m", "iep", "run", "--role", "worker"], env=env, stderr=log)
            )
    yield ports
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _wait_ready(client: httpx.AsyncClient, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worker on metrics port {port} never became ready")


async def test_n_sends_through_two_worker_processes_sum_to_n(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, workers: list[int]
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for port in workers:
            await _wait_ready(client, port)
        for i in range(N):
            payload = {"to": [f"u{i}@example.com"], "from": "app@product.example", "subject": str(i), "textBody": "x"}
            assert (await api.post("/v1/messages", json=payload, headers=tenant.headers)).status_code == 202
        await relay_all(container)
        for _ in range(900):
            if len(sink.handler.ids()) >= N:
                break
            await asyncio.sleep(0.1)
        assert len(sink.handler.ids()) == N
        per_process = []
        for port in workers:
            resp = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert resp.status_code == 200
            per_process.append(_sent(resp.text, tenant.slug))
    assert sum(per_process) == N, per_process
    assert all(count > 0 for count in per_process), per_process  # both processes sent: the sum is of two
