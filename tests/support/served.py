"""IEP's API served over real HTTP on loopback (uvicorn in the test's loop), for SDKs that make their own calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn

from iep.bootstrap import Container
from iep.entrypoints.api import create_app
from tests.support.smtp_sink import free_port


@pytest.fixture
async def served(container: Container) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
