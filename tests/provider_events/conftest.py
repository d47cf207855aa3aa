"""A configured API for provider events: webhook secrets set, SNS certificates served by an injected fetcher."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text

from iep.bootstrap import Container
from iep.delivery import repository as delivery
from iep.entrypoints.api import create_app
from iep.kit.clock import FakeClock
from iep.provider_events.endpoints import ProviderEventsDeps
from iep.provider_events.parsers.sns import CertCache, SubscriptionConfirmer
from tests.conftest import TenantKey
from tests.provider_events.signing import SnsSigner, sendgrid_keys

FIXTURES = Path(__file__).parent / "fixtures"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK = ("postmark-hooks", "s3cr3t-pa55")
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-test-secret-of-32-bytes!!").decode()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Hooks:
    client: httpx.AsyncClient
    container: Container
    clock: FakeClock
    sns: SnsSigner
    sendgrid_key: ec.EllipticCurvePrivateKey
    deps: ProviderEventsDeps

    async def count(self, table: str = "provider_events") -> int:
        assert table in {"provider_events", "provider_event_nonces", "message_recipients", "events"}
        async with self.container.engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608 (a fixed table name)

    async def status(self, message_id: uuid.UUID) -> str:
        async with self.container.engine.connect() as conn:
            return str(
                (
                    await conn.execute(text("SELECT status FROM messages WHERE id = :id"), {"id": message_id})
                ).scalar_one()
            )

    async def event_types(self, message_id: uuid.UUID) -> list[str]:
        async with self.container.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT type FROM events WHERE message_id = :id ORDER BY created_at, id"), {"id": message_id}
            )
            return [r.type for r in rows]

    async def stored(self) -> list[dict[str, Any]]:
        async with self.container.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT provider, event_id, type, bounce, recipient, message_id, tenant_id, diagnostic"
                    " FROM provider_events ORDER BY received_at, id"
                )
            )
            return [dict(r._mapping) for r in rows]


@pytest.fixture
async def hooks(container: Container, clock: FakeClock) -> AsyncIterator[Hooks]:
    private, public = sendgrid_keys()
    container.settings = container.settings.model_copy(
        update={
            "ses_webhook_topic_arns": f"{TOPIC},arn:aws:sns:us-east-1:123456789012:Other",
            "sendgrid_webhook_public_key": public,
            "mailgun_webhook_signing_key": MAILGUN_KEY,
            "postmark_webhook_user": POSTMARK[0],
            "postmark_webhook_password": POSTMARK[1],
            "resend_webhook_secret": RESEND_SECRET,
        }
    )
    signer = SnsSigner(clock.now())
    app = create_app(container)
    deps = ProviderEventsDeps(certs=CertCache(signer.fetch), confirmer=SubscriptionConfirmer())
    app.state.provider_events = deps
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://iep.test") as client:
        yield Hooks(client, container, clock, signer, private, deps)


async def sent_message(
    hooks: Hooks, tenant: TenantKey, *, to: list[str], provider: str, provider_msg_id: str
) -> uuid.UUID:
    """Accepted through the API, then claimed and recorded sent exactly as the worker does after a provider send."""
    payload = {"to": to, "from": "app@product.example", "subject": "Hi", "textBody": "Hello"}
    response = await hooks.client.post("/v1/messages", json=payload, headers=tenant.headers)
    assert response.status_code == 202, response.text
    message_id = uuid.UUID(response.json()["messageId"])
    now = hooks.clock.now()
    async with hooks.container.engine.begin() as conn:
        claimed = await delivery.claim(conn, message_id, "test-worker", now, timedelta(seconds=60))
        assert claimed is not None
        await delivery.record_sent(
            conn,
            message_id,
            now,
            provider=provider,
            provider_message_id=provider_msg_id,
            response="202 Accepted",
            rendered=("Hi", None, "Hello"),
        )
    return message_id
