"""The accept's answer on the wire: 202, compact UTF-8 JSON as application/json, Location, the fields in order."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import TenantKey

SEND = {"to": ["ok@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


async def test_the_accept_answers_compact_json_with_its_location(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    suppressed = "zoë@exämple.com"
    await api.post("/v1/suppressions", json={"email": suppressed}, headers=tenant.headers)
    resp = await api.post("/v1/messages", json={**SEND, "cc": [suppressed]}, headers=tenant.headers)
    assert resp.status_code == 202
    assert resp.headers["content-type"] == "application/json"
    doc = resp.json()
    assert list(doc) == ["messageId", "status", "suppressedRecipients"]
    assert doc["status"] == "queued"
    assert doc["suppressedRecipients"] == [suppressed]
    # The bytes json.dumps would write: no spaces, non-ASCII as UTF-8 rather than escaped.
    assert resp.content == json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    assert resp.headers["location"] == f"/v1/messages/{doc['messageId']}"
    assert int(resp.headers["content-length"]) == len(resp.content)


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/send"])
async def test_the_key_is_checked_before_the_body_is_read(api: httpx.AsyncClient, path: str) -> None:
    resp = await api.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 401
    assert resp.json()["type"].endswith("/unauthenticated")
