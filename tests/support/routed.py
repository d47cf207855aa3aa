"""A container whose tenant routes between two real aiosmtpd servers, for failover tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text, update

from iep import bootstrap
from iep.bootstrap import Container
from iep.config import load_settings
from iep.entrypoints.api import create_app
from iep.kit.clock import Clock
from iep.providers.smtp import SmtpProvider
from iep.tenancy.models import tenants
from tests.conftest import TABLES, TenantKey, make_tenant


def smtp_to(port: int, name: str) -> SmtpProvider:
    return SmtpProvider(
        name=name, host="127.0.0.1", port=port, tls="none", timeout=2, connect_timeout=1, pool_size=2,
        message_id_domain="iep.test", local_hostname="client.iep.test",
    )  # fmt: skip


@asynccontextmanager
async def routed_container(
    database_url: str, clock: Clock, primary_port: int, fallback_port: int, **settings: Any
) -> AsyncIterator[tuple[Container, httpx.AsyncClient, TenantKey]]:
    config = load_settings(database_url=database_url, default_provider="primary", **settings)
    providers = {"primary": smtp_to(primary_port, "primary"), "fallback": smtp_to(fallback_port, "fallback")}
    container = bootstrap.build(config, database_url, clock=clock, providers=providers, pool_size=10)
    async with container.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    tenant = await make_tenant(container, "routed")
    async with container.engine.begin() as conn:
        await conn.execute(
            update(tenants)
            .where(tenants.c.slug == "routed")
            .values(settings={"routing": {"primary": "primary", "fallback": "fallback"}})
        )
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://iep.test") as api:
        yield container, api, tenant
    await container.close()
