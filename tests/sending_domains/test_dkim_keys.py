"""A tenant's DKIM key, created and stored encrypted, signs its SMTP mail through the whole send path; the
signature verifies against the published record and d= is the From domain."""

from __future__ import annotations

import dkim
from sqlalchemy import select

from iep.kit.clock import FakeClock
from iep.kit.crypto import KeyRing
from iep.sending_domains import service
from iep.sending_domains.models import dkim_keys
from iep.tenancy.models import tenants
from tests.support.pipeline import drain
from tests.support.routed import routed_container
from tests.support.smtp_sink import SmtpSink


async def test_the_stored_key_signs_mail_that_verifies(database_url: str, clock: FakeClock) -> None:
    sink = SmtpSink().start()
    try:
        key = f"k1:{KeyRing.generate_key()}"
        async with routed_container(database_url, clock, sink.port, sink.port, iep_encryption_key=key) as (
            c,
            api,
            tenant,
        ):
            assert c.keyring is not None
            async with c.engine.begin() as conn:
                tenant_id = (await conn.execute(select(tenants.c.id).where(tenants.c.slug == "routed"))).scalar_one()
                record = await service.create_dkim_key(
                    conn, c.keyring, tenant_id, domain="Product.example", selector="iep1"
                )
                stored = (await conn.execute(select(dkim_keys.c.private_key_encrypted))).scalar_one()
            assert "PRIVATE KEY" not in stored
            payload = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Signed", "textBody": "x"}
            assert (await api.post("/v1/messages", json=payload, headers=tenant.headers)).status_code == 202
            assert await drain(c) == 1
        (received,) = sink.handler.received
        assert received.message["DKIM-Signature"] is not None
        assert "d=product.example" in "".join(str(received.message["DKIM-Signature"]).split())
        published = {f"{record.name}.".encode(): record.value.encode()}
        assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: published.get(name))
    finally:
        sink.stop()
