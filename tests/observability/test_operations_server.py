"""The operations port of roles without the API: served on METRICS_PORT (0 = any free port); a port already
taken is logged and leaves the role running, never exits the process."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from iep.bootstrap import Container
from iep.config import Role
from iep.observability.server import OperationsServer


async def test_it_serves_health_ready_and_metrics(container: Container) -> None:
    container.settings = container.settings.model_copy(update={"metrics_port": 0})
    ops = OperationsServer(container, Role.WEBHOOKS)
    task = asyncio.create_task(ops.run())
    try:
        for _ in range(100):
            if ops.port:
                break
            await asyncio.sleep(0.02)
        assert ops.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops.port}", timeout=5) as client:
            for _ in range(100):
                try:
                    health = await client.get("/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            assert health.status_code == 200
            ready = await client.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": "ok"}
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert "process_cpu_seconds_total" in metrics.text
    finally:
        ops.stop()
        await asyncio.wait_for(task, 10)


async def test_a_taken_port_is_logged_and_the_part_waits_for_stop(
    container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        container.settings = container.settings.model_copy(update={"metrics_port": port})
        ops = OperationsServer(container, Role.WORKER)
        task = asyncio.create_task(ops.run())
        await asyncio.sleep(0.2)
        assert not task.done()  # the role goes on; only stop ends the part
        ops.stop()
        await asyncio.wait_for(task, 5)
    assert ops.port is None
    captured = capsys.readouterr()
    assert "metrics_port_unavailable" in captured.out + captured.err
