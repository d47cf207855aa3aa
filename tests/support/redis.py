"""Redis for tests: a real server, a key prefix of this run's own, and a clear failure when it is missing."""

from __future__ import annotations

import os
import uuid

import pytest
from redis.asyncio import Redis

REDIS_URL = os.environ.get("IEP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def connect() -> Redis:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except OSError as exc:  # redis' ConnectionError is an OSError too
        await client.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required at {REDIS_URL} and is unreachable: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}")
    return client


def unique_prefix() -> str:
    return f"iep-test:{os.getpid()}:{uuid.uuid4().hex[:8]}:"


async def delete_prefix(client: Redis, prefix: str) -> None:
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)
