"""The directory topic on each queue backend, isolated per test: a queue handle, and the env of a role process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import pytest

from iep.bootstrap import Container
from iep.directory.events import DIRECTORY_TOPIC
from iep.kit.clock import SystemClock
from iep.queue.port import Queue
from iep.queue.postgres import PostgresQueue
from iep.queue.rabbitmq import RabbitQueue
from iep.queue.redis_bullmq import PREFIX, RedisQueue
from tests.support import brokers

IEP = str(Path(sys.executable).with_name("iep"))


@dataclass
class Backend:
    kind: str
    container: Container
    rabbitmq_url: str
    made: list[Queue] = field(default_factory=list)

    def queue(self, *, concurrency: int = 16) -> Queue:
        made: Queue
        if self.kind == "postgres":
            made = PostgresQueue(
                self.container.engine,
                self.container.database_url,
                SystemClock(),
                worker_id=f"directory-test-{len(self.made)}",
                lease_seconds=30,
                batch_size=concurrency,
                queue=DIRECTORY_TOPIC,
            )
        elif self.kind == "rabbitmq":
            made = RabbitQueue(self.rabbitmq_url, SystemClock(), prefetch=concurrency, queue=DIRECTORY_TOPIC)
        else:
            # The roles' own prefix, so a role process and the test meet on one BullMQ queue; the topic is
            # emptied before and after each test.
            made = RedisQueue(
                brokers.REDIS_URL,
                SystemClock(),
                concurrency=concurrency,
                lock_seconds=30,
                stalled_check_seconds=5,
                queue=DIRECTORY_TOPIC,
                prefix=PREFIX,
            )
        self.made.append(made)
        return made

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.container.database_url,
            "QUEUE_BACKEND": self.kind,
            "LOG_LEVEL": "info",
            "LOG_JSON": "true",
            **extra,
        }
        if self.kind == "rabbitmq":
            env["RABBITMQ_URL"] = self.rabbitmq_url
        if self.kind == "redis":
            env["REDIS_URL"] = brokers.REDIS_URL
        return env

    async def close(self) -> None:
        for made in self.made:
            await made.stop()
            await made.close()


async def empty_topic(kind: str, rabbitmq_url: str) -> None:
    if kind == "rabbitmq":
        connection = await aio_pika.connect(rabbitmq_url, timeout=5)
        try:
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.ChannelClosed):  # not declared yet in this vhost
                await (await channel.declare_queue(DIRECTORY_TOPIC, passive=True)).purge()
        finally:
            await connection.close()
    elif kind == "redis":
        from redis.asyncio import Redis

        client = Redis.from_url(brokers.REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(match=f"{PREFIX}:{DIRECTORY_TOPIC}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@pytest.fixture(params=["postgres", "rabbitmq", "redis"])
async def backend(
    request: pytest.FixtureRequest, container: Container, rabbitmq_url: str, redis_url: str
) -> AsyncIterator[Backend]:
    del redis_url  # requested so an unreachable Redis stops the run
    await empty_topic(request.param, rabbitmq_url)
    made = Backend(request.param, container, rabbitmq_url)
    yield made
    await made.close()
    await empty_topic(request.param, rabbitmq_url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_role(role: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen([IEP, "run", "--role", role], env=env, stdout=err, stderr=err)


def stop_role(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
