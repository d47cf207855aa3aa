"""Scratch databases the benchmark creates and drops, and the tenant + API key it sends as."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from iep.kit import migrate
from iep.kit.db import create_engine
from iep.sending_domains import repository as sending_domains
from iep.tenancy import service as tenancy

ADMIN_URL = os.environ.get("IEP_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
SENDER_DOMAIN = "bench.example"


def url_for(db: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + db


@asynccontextmanager
async def database(suffix: str) -> AsyncIterator[str]:
    """A fresh empty database named after this process; dropped on the way out, whatever happened."""
    name = f"iep_bench_{suffix}_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url_for(name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class Sender:
    slug: str
    api_key: str


async def prepare_iep(url: str) -> Sender:
    """Migrate, then create a tenant with a verified sender domain and a `send,read` key."""
    await migrate.upgrade(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            tenant = await tenancy.create_tenant(conn, name="Bench", slug="bench")
            # Verified, as production requires: the benchmark measures the path real tenants take.
            await sending_domains.insert_domain(conn, tenant["id"], SENDER_DOMAIN, verified=True)
            _, key = await tenancy.create_key(conn, tenant_slug="bench", scopes=["send", "read"])
    finally:
        await engine.dispose()
    return Sender("bench", key)


async def reset_messages(url: str) -> None:
    """Empty what a run leaves behind so the next one starts from the same state (tenant and key kept)."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute("TRUNCATE messages, events, outbox, queue_jobs, attachments RESTART IDENTITY CASCADE")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
