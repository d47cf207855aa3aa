"""A tenant's own provider account: stored encrypted (S6), decrypted only to route that tenant's mail."""

from __future__ import annotations

from sqlalchemy import select, update

from iep.kit.clock import FakeClock
from iep.kit.crypto import KeyRing
from iep.providers import service
from iep.providers.models import tenant_providers
from iep.tenancy.models import tenants
from tests.support.pipeline import drain
from tests.support.routed import routed_container
from tests.support.smtp_sink import SmtpSink

KEY = f"k1:{KeyRing.generate_key()}"


async def test_own_smtp_account_is_encrypted_at_rest_and_used_for_the_tenant(
    database_url: str, clock: FakeClock
) -> None:
    shared, own = SmtpSink().start(), SmtpSink().start()
    try:
        async with routed_container(database_url, clock, shared.port, shared.port, iep_encryption_key=KEY) as (
            c,
            api,
            tenant,
        ):
            async with c.engine.begin() as conn:
                tenant_id = (await conn.execute(select(tenants.c.id).where(tenants.c.slug == "routed"))).scalar_one()
                assert c.keyring is not None
                await service.set_tenant_provider(
                    conn, c.keyring, c.settings, tenant_id, name="own-smtp", kind="smtp",
                    config={"host": "127.0.0.1", "port": own.port, "tls": "none", "username": None,
                            "password": None, "local_hostname": "client.iep.test"},
                    now=clock.now(),
                )  # fmt: skip
                await conn.execute(
                    update(tenants)
                    .where(tenants.c.id == tenant_id)
                    .values(settings={"routing": {"primary": "own-smtp"}})
                )
                stored = (await conn.execute(select(tenant_providers.c.config_encrypted))).scalar_one()
            assert stored.startswith("v1.k1.")
            assert str(own.port) not in stored
            payload = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}
            mid = (await api.post("/v1/messages", json=payload, headers=tenant.headers)).json()["messageId"]
            assert await drain(c) == 1
            assert own.handler.ids() == [mid]
            assert shared.handler.ids() == []
            doc = (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()
            assert (doc["status"], doc["provider"]) == ("sent", "own-smtp")
    finally:
        shared.stop()
        own.stop()
