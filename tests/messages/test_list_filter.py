"""`GET /v1/messages` filters (docs/security.md): query text validated (NUL → 422, never a 500), the recipient
filter an exact match on the normalized address (no wildcards), served by the GIN index on `recipients`."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

from iep.bootstrap import Container
from iep.kit.scoping import scoped_select
from iep.messages.models import messages
from tests.conftest import TenantKey

BASE = {"from": "App <app@product.example>", "subject": "Hi", "textBody": "Hello"}


async def _send(api: httpx.AsyncClient, tenant: TenantKey, **fields: object) -> str:
    resp = await api.post("/v1/messages", json={**BASE, **fields}, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["messageId"])


async def _found(api: httpx.AsyncClient, tenant: TenantKey, to: str) -> list[str]:
    resp = await api.get("/v1/messages", params={"to": to}, headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    return [m["messageId"] for m in resp.json()["data"]]


@pytest.mark.parametrize(
    "params",
    [
        {"to": "a\x00@example.org"},
        {"category": "x\x00"},
        {"tag": "\x00"},
        {"to": "a\r\n@example.org"},
        {"to": "x" * 255},
        {"to": ""},
    ],
    ids=["to-nul", "category-nul", "tag-nul", "to-crlf", "to-too-long", "to-empty"],
)
async def test_bad_query_text_is_a_422_problem(
    api: httpx.AsyncClient, tenant: TenantKey, params: dict[str, str]
) -> None:
    resp = await api.get("/v1/messages", params=params, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("cursor", ["not a cursor!", "%00", "AAAA"], ids=["chars", "pct", "b64"])
async def test_a_foreign_cursor_is_a_400_problem(api: httpx.AsyncClient, tenant: TenantKey, cursor: str) -> None:
    resp = await api.get("/v1/messages", params={"cursor": cursor}, headers=tenant.headers)
    assert resp.status_code == 400
    assert resp.json()["type"].endswith("/invalid-query")


async def test_the_recipient_filter_is_exact_and_knows_no_wildcards(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    ana = await _send(api, tenant, to=["Ana@Example.org"])
    bob = await _send(api, tenant, to=["x@example.org"], cc=["bob@example.org"])
    carl = await _send(api, tenant, to=["y@example.org"], bcc=["carl_1@example.org"])
    assert await _found(api, tenant, "ana@example.org") == [ana]
    assert await _found(api, tenant, " ANA@EXAMPLE.ORG ") == [ana]
    assert await _found(api, tenant, "bob@example.org") == [bob]
    assert await _found(api, tenant, "carl_1@example.org") == [carl]
    for pattern in ("%", "%@example.org", "_na@example.org", "ana", "example.org", "carl%", "carl_1"):
        assert await _found(api, tenant, pattern) == [], pattern


async def test_the_recipient_filter_is_served_by_the_gin_index(container: Container) -> None:
    """With a tenant of 5,000 messages, the planner reads the GIN index for one address instead of the tenant."""
    tenant_id = uuid.uuid4()
    fill = text(
        """
        INSERT INTO messages (id, tenant_id, "to", from_email, subject, status, recipients)
        SELECT gen_random_uuid(), :tenant_id, ARRAY['user' || i || '@example.org'], 'a@product.example', 's',
          'sent', ARRAY['user' || i || '@example.org']
        FROM generate_series(1, 5000) AS i
        """
    )
    stmt = scoped_select(messages, tenant_id).where(messages.c.recipients.contains(["user42@example.org"]))
    async with container.engine.connect() as conn:
        trans = await conn.begin()
        await conn.execute(text("INSERT INTO tenants (id, name, slug) VALUES (:id, 'Big', 'big')"), {"id": tenant_id})
        await conn.execute(fill, {"tenant_id": tenant_id})
        await conn.execute(text("ANALYZE messages"))
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in await conn.execute(text(f"EXPLAIN {compiled}")))
        await trans.rollback()
    assert "ix_messages_recipients" in plan, plan


@pytest.mark.parametrize(
    "url",
    ["/v1/suppressions?email=%00", "/v1/messages?to=a%00b", "/v1/messages/%00", "/v1/webhooks?x%00=1"],
    ids=["suppressions", "messages", "path", "name"],
)
async def test_a_nul_anywhere_in_the_url_is_a_422_before_any_handler(
    api: httpx.AsyncClient, tenant: TenantKey, url: str
) -> None:
    resp = await api.get(url, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["code"] in ("nul", "string_pattern_mismatch")
