"""The facade's answers at the HTTP level: Resend's error shape, always application/json, unsupported fields
refused by name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import TenantKey

EMAIL = {"from": "app@product.example", "to": "a@example.com", "subject": "S", "text": "T"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"template": {"id": "welcome"}}, "`template`"),
        ({"topic_id": "t1"}, "`topic_id`"),
        ({"reply_to": ["a@product.example", "b@product.example"]}, "`reply_to`"),
        ({"attachments": [{"path": "http://127.0.0.1:9/a.pdf", "filename": "a.pdf"}]}, "`attachments[0].path`"),
        ({"html": "<p>x</p>", "text": None, "sender": "x"}, "`sender`"),
    ],
    ids=["template", "topic", "two-reply-to", "remote-attachment", "unknown-field"],
)
async def test_unsupported_fields_are_refused_by_name(
    api: httpx.AsyncClient, tenant: TenantKey, extra: dict[str, Any], field: str
) -> None:
    resp = await api.post("/emails", json={**EMAIL, **extra}, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) == {"statusCode", "name", "message"}
    assert body["statusCode"] == 422
    assert field in body["message"]


async def test_auth_errors_are_resend_shaped(api: httpx.AsyncClient) -> None:
    none = await api.post("/emails", json=EMAIL)
    assert (none.status_code, none.json()["name"]) == (401, "missing_api_key")
    assert none.headers["content-type"] == "application/json"
    wrong = await api.get("/emails/0190f1d2-0000-7000-8000-000000000000", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code in (401, 403)
    assert wrong.headers["content-type"] == "application/json"


async def test_the_rest_of_resends_email_api_is_a_resend_shaped_404(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    resp = await api.post("/emails/0190f1d2-0000-7000-8000-000000000000/cancel", headers=tenant.headers)
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["name"] == "not_found"


async def test_rate_limit_headers_and_ids(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    resp = await api.post("/emails", json=EMAIL, headers=tenant.headers)
    assert resp.status_code == 200
    got = await api.get(f"/emails/{resp.json()['id']}", headers=tenant.headers)
    assert got.json()["last_event"] == "queued"
    assert got.json()["to"] == ["a@example.com"]
