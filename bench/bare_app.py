"""The HTTP stack IEP's API runs on (FastAPI + uvicorn, one process, same server options) with a trivial endpoint.

Run: python -m bench.bare_app PORT. Its req/s is the ceiling of the stack itself, and shows how hard the load
generator can push.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


async def serve(port: int) -> None:
    # The options `iep run --role api` gives uvicorn (entrypoints/runtime.py).
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    # The same event loop `iep run` uses (entrypoints/cli.py).
    asyncio.run(serve(int(sys.argv[1])))
