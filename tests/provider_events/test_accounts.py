"""POST /webhooks/{provider}/{accountId}: a tenant's own provider account, its secret from its encrypted config."""

from __future__ import annotations

import base64
import json
import uuid

from sqlalchemy import text

from iep.kit.crypto import KeyRing
from iep.providers import service as providers
from tests.conftest import make_tenant
from tests.provider_events.conftest import RESEND_SECRET, Hooks, fixture, sent_message
from tests.provider_events.signing import epoch, svix_headers

ACCOUNT_SECRET = "whsec_" + base64.b64encode(b"a tenant's own resend secret....").decode()


async def _account(hooks: Hooks, slug: str) -> uuid.UUID:
    keyring = hooks.container.keyring
    assert keyring is not None
    async with hooks.container.engine.begin() as conn:
        tenant_id = (await conn.execute(text("SELECT id FROM tenants WHERE slug = :s"), {"s": slug})).scalar_one()
        await providers.set_tenant_provider(
            conn,
            keyring,
            hooks.container.settings,
            tenant_id,
            name="own-resend",
            kind="resend",
            config={"api_key": "re_tenant", "webhook_secret": ACCOUNT_SECRET},
            now=hooks.clock.now(),
        )
        return uuid.UUID(str((await conn.execute(text("SELECT id FROM tenant_providers"))).scalar_one()))


def _event(email_id: str, to: str, secret: str, now: int) -> tuple[bytes, dict[str, str]]:
    record = fixture("resend_delivered.json")
    record["data"].update(email_id=email_id, to=[to])
    body = json.dumps(record).encode()
    return body, svix_headers(secret, f"msg_{uuid.uuid4().hex}", now, body)


async def test_an_account_route_uses_the_accounts_secret_and_only_its_tenants_messages(hooks: Hooks) -> None:
    hooks.container.settings = hooks.container.settings.model_copy(
        update={"iep_encryption_key": "k1:" + KeyRing.generate_key()}
    )
    acme, other = await make_tenant(hooks.container, "acme"), await make_tenant(hooks.container, "other")
    account = await _account(hooks, "acme")
    mine = await sent_message(hooks, acme, to=["a@example.com"], provider="own-resend", provider_msg_id="re-1")
    theirs = await sent_message(hooks, other, to=["b@example.com"], provider="resend", provider_msg_id="re-2")
    now = epoch(hooks.clock.now())
    url = f"/webhooks/resend/{account}"

    assert (await hooks.client.post(url, content=(b := _event("re-1", "a@example.com", ACCOUNT_SECRET, now))[0],
                                    headers=b[1])).status_code == 200  # fmt: skip
    # The same account cannot speak for another tenant's message: kept, unmatched.
    body, headers = _event("re-2", "b@example.com", ACCOUNT_SECRET, now)
    assert (await hooks.client.post(url, content=body, headers=headers)).status_code == 200
    assert await hooks.status(mine) == "delivered"
    assert await hooks.status(theirs) == "sent"
    assert [r["message_id"] for r in await hooks.stored()] == [mine, None]

    # The global secret does not open the account route, nor the account secret the global one.
    body, headers = _event("re-1", "a@example.com", RESEND_SECRET, now)
    assert (await hooks.client.post(url, content=body, headers=headers)).status_code == 401
    body, headers = _event("re-2", "b@example.com", ACCOUNT_SECRET, now)
    assert (await hooks.client.post("/webhooks/resend", content=body, headers=headers)).status_code == 401
    # An account of another kind, or no such account: 404.
    assert (await hooks.client.post(f"/webhooks/sendgrid/{account}", content=b"[]")).status_code == 404
    assert (await hooks.client.post(f"/webhooks/resend/{uuid.uuid4()}", content=b"{}")).status_code == 404
    assert await hooks.count() == 2
