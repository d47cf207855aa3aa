"""One replica in the compile race: `python -m tests.support.compile_race ROOT DIST NAME N LOCK URL PREFIX`.

It warms up, prints `ready`, waits for `go` on stdin, renders template NAME N times at once, and prints how many
compiles this process did. LOCK is `postgres` (URL is the database) or `redis` (URL is Redis; compiled files
are shared through Redis, as between replicas with folders of their own).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from iep.kit.db import create_engine
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.compile_cache import CompileCache, CompileLock, PostgresLock, RedisLock, RedisStore, SharedStore
from iep.rendering.renderer import Renderer


async def main(root: str, dist: str, name: str, count: int, lock_kind: str, url: str, prefix: str) -> None:
    lock: CompileLock
    store: SharedStore | None = None
    if lock_kind == "redis":
        import redis.asyncio

        client = redis.asyncio.from_url(url)
        lock, store = RedisLock(client, prefix=prefix + "lock:"), RedisStore(client, prefix=prefix + "file:")
    else:
        engine = create_engine(url, pool_size=2)
        lock = PostgresLock(engine)
    renderer = Renderer(
        timeout_ms=5000,  # this test counts compiles; render time on a loaded machine is not its subject
        python_workers=1,
        bun_workers=1,
        catalog=TemplateCatalog(Path(root)),
        cache=CompileCache(Path(dist), lock, store=store),
    )
    source = renderer.catalog.resolve(None, name)
    await renderer.python.start()
    if source.format == "tsx":
        await renderer.bun.start()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    results = await asyncio.gather(*(renderer.template(source, {"n": i}) for i in range(count)), return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    subjects = sorted({r.subject for r in results if not isinstance(r, BaseException)})
    print(json.dumps({"compiles": renderer.cache.compiles, "errors": errors, "subjects": subjects[:3]}), flush=True)
    await renderer.close()


if __name__ == "__main__":
    root, dist, name, count, lock_kind, url, prefix = sys.argv[1:]
    asyncio.run(main(root, dist, name, int(count), lock_kind, url, prefix))
