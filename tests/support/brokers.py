"""The machine's real RabbitMQ and Redis, each test run in a namespace of its own (a vhost, a key prefix)."""

from __future__ import annotations

import os
import subprocess
import uuid

import aio_pika
import redis.asyncio as aioredis

RABBITMQ_BASE = os.environ.get("IEP_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
REDIS_URL = os.environ.get("IEP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost(name: str) -> str:
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return f"{RABBITMQ_BASE}/{name}"


def delete_vhost(name: str) -> None:
    _rabbitmqctl("delete_vhost", name)


async def rabbitmq_reachable() -> str | None:
    try:
        connection = await aio_pika.connect(RABBITMQ_BASE + "/", timeout=5)
    except Exception as exc:  # any failure to connect is reported the same way
        return f"RabbitMQ is required at {RABBITMQ_BASE} and is unreachable: {exc!r}"
    await connection.close()
    return None


async def redis_reachable() -> str | None:
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:  # any failure to connect is reported the same way
        return f"Redis is required at {REDIS_URL} and is unreachable: {exc!r}"
    finally:
        await client.aclose()
    return None


async def purge_rabbitmq(url: str) -> None:
    """Empty every IEP queue of the vhost (declaring nothing that does not exist)."""
    from iep.queue.port import DEAD_LETTER_QUEUE
    from iep.queue.rabbitmq import RETRY_TIERS_MS, WEBHOOK_QUEUE, send_queue, tier_name

    names = [send_queue(r) for r in range(3)] + [tier_name(ms) for ms in RETRY_TIERS_MS]
    names += [DEAD_LETTER_QUEUE, WEBHOOK_QUEUE]
    connection = await aio_pika.connect(url, timeout=5)
    try:
        for name in names:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
                await queue.purge()
            except aio_pika.exceptions.ChannelClosed:
                pass  # not declared yet in this vhost
            finally:
                if not channel.is_closed:
                    await channel.close()
    finally:
        await connection.close()


def redis_prefix() -> str:
    return f"ieptest-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def delete_redis_prefix(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
