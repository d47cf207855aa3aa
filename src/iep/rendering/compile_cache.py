"""The lazy compile chain (T3, seed 001 §2.2): RAM LRU → compiled file → shared store → cross-replica lock →
compile → temp file + rename → load.

An artifact is named by a key that hashes everything its output depends on (source, imports, toolchain), so a
file that exists is always right and never needs invalidating. N concurrent first requests on M replicas compile
once: requests in one process share one in-flight future, and processes queue on a lock and look again after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger("iep.rendering")

T = TypeVar("T")
LOCK_WAIT_SECONDS = 120.0


class CompileLock(Protocol):
    def hold(self, key: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class SharedStore(Protocol):
    """Compiled artifacts shared by replicas whose dist folders are their own (Redis, D7)."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, data: bytes) -> None: ...


class FileLock:
    """`flock` on a file in the dist folder: enough for processes on one host sharing that folder."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory / ".locks"

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        self._dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir / f"{key}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


class PostgresLock:
    """A transaction-scoped advisory lock: released at commit, or by the server if this process dies."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock_id = int.from_bytes(hashlib.sha256(b"iep-compile:" + key.encode()).digest()[:8], "big", signed=True)
        async with self._engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_SECONDS * 1000)}ms'"))
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
            yield


class RedisLock:
    """`SET NX PX` with a token, released only by its holder; expires by itself if the holder dies."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, client: Any, *, prefix: str = "iep:compile-lock:", ttl_seconds: float = 60.0) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = int(ttl_seconds * 1000)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        name, token = self._prefix + key, uuid.uuid4().hex
        async with asyncio.timeout(LOCK_WAIT_SECONDS):
            # Polling: the holder is another process, so there is no local event to wait on.
            while not await self._client.set(name, token, nx=True, px=self._ttl_ms):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        try:
            yield
        finally:
            await self._client.eval(self._RELEASE, 1, name, token)


class RedisStore:
    def __init__(self, client: Any, *, prefix: str = "iep:compiled:", ttl_seconds: int = 30 * 86400) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    async def get(self, key: str) -> bytes | None:
        data: bytes | None = await self._client.get(self._prefix + key)
        return data

    async def put(self, key: str, data: bytes) -> None:
        await self._client.set(self._prefix + key, data, ex=self._ttl)


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class CompileCache:
    def __init__(
        self, directory: Path, lock: CompileLock, *, store: SharedStore | None = None, ram_entries: int = 512
    ) -> None:
        self.directory = directory.absolute()  # Bun imports artifacts by absolute path
        self._lock = lock
        self._store = store
        self._ram: OrderedDict[str, Any] = OrderedDict()
        self._ram_entries = ram_entries
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self.compiles = 0  # by this process: the number a test counts across replicas

    async def get(
        self,
        key: str,
        suffix: str,
        compile_to: Callable[[Path], Awaitable[None]],
        load: Callable[[Path], T],
    ) -> T:
        if key in self._ram:
            self._ram.move_to_end(key)
            hit: T = self._ram[key]
            return hit
        pending = self._inflight.get(key)
        if pending is not None:
            shared: T = await asyncio.shield(pending)
            return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await self._fetch(key, suffix, compile_to, load)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a future nobody else awaited does not warn
            raise
        finally:
            del self._inflight[key]
        future.set_result(value)
        self._ram[key] = value
        if len(self._ram) > self._ram_entries:
            self._ram.popitem(last=False)
        return value

    async def _fetch(
        self, key: str, suffix: str, compile_to: Callable[[Path], Awaitable[None]], load: Callable[[Path], T]
    ) -> T:
        path = self.directory / f"{key}{suffix}"
        if await self._present(key, path):
            return load(path)
        self.directory.mkdir(parents=True, exist_ok=True)
        async with self._lock.hold(key):
            if await self._present(key, path):  # another process compiled it while we queued
                return load(path)
            tmp = path.with_name(f".{key}.{uuid.uuid4().hex}.tmp{suffix}")
            try:
                await compile_to(tmp)
                data = tmp.read_bytes()
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            self.compiles += 1
            log.info("template_compiled", key=key[:16], suffix=suffix, bytes=len(data))
            if self._store is not None:
                await self._store.put(key, data)
        return load(path)

    async def _present(self, key: str, path: Path) -> bool:
        if path.is_file():  # noqa: ASYNC240 - one stat of a local file, cheaper than a thread hop
            return True
        if self._store is not None:
            data = await self._store.get(key)
            if data is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                write_atomically(path, data)
                return True
        return False
