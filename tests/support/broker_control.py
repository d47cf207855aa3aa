"""Take a test's broker down and bring it back: the real server each time, never a fake.

RabbitMQ: the machine's broker, its application stopped and started (`rabbitmqctl stop_app|start_app`): every
connection drops, durable quorum queues come back from disk. Redis: a redis-server of the test's own on a free
port, without persistence, killed and started again, so every job in it is gone and only the database remembers.
PostgreSQL: the database is the broker; its "restart" is every other connection terminated.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import asyncpg

from iep.kit.db import asyncpg_dsn
from tests.support.smtp_sink import free_port


def rabbitmq_down() -> None:
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True, timeout=120)


def rabbitmq_up() -> None:
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, capture_output=True, timeout=120)


class OwnRedis:
    """A redis-server process on loopback that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for the Redis fault runs"
        self._proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, check=False
            )
            if probe.stdout.strip() == "PONG":
                return self
            time.sleep(0.05)
        raise AssertionError("the test's redis-server did not start")

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None


async def terminate_connections(database_url: str, *application_names: str) -> int:
    """Kill the named roles' database connections (`iep-worker`, `iep-relay`, ...), as a server restart would."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ANY($1::text[])",
            list(application_names),
        )
        return int(killed)
    finally:
        await conn.close()
