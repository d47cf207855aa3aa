"""Several processes of a role on one host: every copy works, a dead copy comes back, SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs pinned; two calls used
from sqlalchemy import select

from iep.bootstrap import Container
from iep.messages.models import events
from tests.conftest import TenantKey
from tests.support.pipeline import relay_all
from tests.support.smtp_sink import SmtpSink, free_port, free_port_run

IEP = str(Path(sys.executable).with_name("iep"))


class Role:
    """`iep run --role ROLE` with its log (every copy's) in a file the test reads while it runs."""

    def __init__(self, role: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen([IEP, "run", "--role", role], env=env, stderr=out)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def started(self, copies: int) -> None:
        """Wait until every copy has started all its parts (a copy still starting dies of SIGTERM, silently)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.text().count('"event": "started"') >= copies:
                return
            time.sleep(0.05)
        raise AssertionError(f"{copies} copies did not start: {self.text()[-2000:]}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.text()


def _children(proc: Role, count: int, *, without: int = 0) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = [c for c in psutil.Process(proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]
        pids = [c.pid for c in alive]
        if len(pids) == count and without not in pids:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"expected {count} copies")


def _env(database_url: str, sink: SmtpSink, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "QUEUE_BACKEND": "postgres",
        **extra,
    }


async def test_two_worker_processes_share_the_queue_and_deliver_each_message_once(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, database_url: str, tmp_path: Path
) -> None:
    sink.handler.data_delay = 0.02  # the work outlasts the copies' start-up, so both take some of it
    ids = []
    for i in range(100):
        payload = {"to": [f"u{i}@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}
        ids.append((await api.post("/v1/messages", json=payload, headers=tenant.headers)).json()["messageId"])
    metrics = free_port_run(2)  # copy i serves its metrics on metrics + i
    # A few sends in flight per copy, so the first copy up cannot claim the whole backlog before the second starts.
    env = _env(database_url, sink, WORKER_PROCESSES="2", METRICS_PORT=str(metrics), WORKER_CONCURRENCY="8")
    proc = Role("worker", env, tmp_path / "w.log")
    try:
        first, _ = _children(proc, 2)
        proc.started(2)
        await relay_all(container)
        for _ in range(600):
            if len(sink.handler.ids()) >= len(ids):
                break
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(timeout=5) as client:  # each copy serves its own metrics, on its own port
            scraped = [(await client.get(f"http://127.0.0.1:{metrics + i}/metrics")).text for i in (0, 1)]
        assert all("iep_messages_total" in text for text in scraped)
        psutil.Process(first).kill()  # a copy that dies is started again
        assert len(_children(proc, 2, without=first)) == 2
        proc.started(3)  # the replacement too
    finally:
        err = proc.stop()
    assert proc.proc.returncode == 0, err[-2000:]
    assert sorted(sink.handler.ids()) == sorted(ids), "each message delivered, once"
    async with container.engine.connect() as conn:
        rows = await conn.execute(select(events.c.payload["worker"].astext).where(events.c.type == "processing"))
        workers = set(rows.scalars())
    assert len(workers) == 2, f"both copies took messages: {workers}"


async def test_two_api_processes_answer_on_one_port_and_stop_together(
    tenant: TenantKey, sink: SmtpSink, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    proc = Role("api", _env(database_url, sink, API_WORKERS="2", PORT=str(port)), tmp_path / "api.log")
    try:
        children = _children(proc, 2)
        proc.started(2)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(200):
                try:
                    if (await client.get("/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            payload = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}
            answers = await asyncio.gather(
                *(client.post("/v1/messages", json=payload, headers=tenant.headers) for _ in range(20))
            )
        assert {a.status_code for a in answers} == {202}
        busy = [psutil.Process(pid).cpu_times().user for pid in children]
        assert all(t > 0 for t in busy)
    finally:
        err = proc.stop()
    assert proc.proc.returncode == 0, err[-2000:]
    assert err.count('"event": "stopped"') == 2, "each copy stopped gracefully"
