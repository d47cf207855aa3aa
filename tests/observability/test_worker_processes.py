"""Counts stay right with several processes of a role: every process serves its own /metrics (METRICS_PORT) and
Prometheus adds them up. Two real `iep run --role worker` processes share one queue; after N sends the scraped
iep_messages_total{status="sent"} of both sums to N. The relay serves queue depth and outbox lag on its own port."""

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
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(resp.text)
                for s in family.samples
            }
            # The worker's own figures: its circuit as it saw it, its render time, its process.
            assert samples[("iep_breaker_state", (("provider", "smtp"), ("state", "closed")))] == 1
            assert samples[("iep_breaker_open", (("provider", "smtp"),))] == 0
            assert samples[("iep_render_duration_seconds_count", (("engine", "handlebars"),))] > 0
            assert samples[("process_resident_memory_bytes", ())] > 0
    assert sum(per_process) == N, per_process
    assert all(count > 0 for count in per_process), per_process  # both processes sent: the sum is of two


@pytest.fixture
def relay(database_url: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    log_path = tmp_path / "relay.log"
    env = {**os.environ, "DATABASE_URL": database_url, "METRICS_PORT": str(port), "LOG_LEVEL": "info"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "iep", "run", "--role", "relay"], env=env, stderr=log)
    yield port, log_path
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


async def test_the_relay_serves_queue_depth_and_outbox_lag_on_its_metrics_port(
    container: Container, relay: tuple[int, Path]
) -> None:
    port, log_path = relay
    async with httpx.AsyncClient(timeout=10) as client:
        await _wait_ready(client, port)
        ready = (await client.get(f"http://127.0.0.1:{port}/ready")).json()
        assert ready["checks"] == {"database": "ok"}  # the postgres backend: the broker is the database
        assert (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
        body = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    names = {(s.name, s.labels.get("queue")) for family in text_string_to_metric_families(body) for s in family.samples}
    assert ("iep_queue_depth", "mail.send") in names
    assert ("iep_queue_depth", "mail.webhook") in names
    assert ("iep_outbox_lag_seconds", None) in names
    assert '"retention"' in log_path.read_text()  # the retention sweep is one of the relay's parts
