"""Deep or NUL-carrying JSON is a 422, never a 500 (docs/security.md): metadata, variables and templateData nest
at most 32 levels, any JSON body at most 64, and no string in them holds U+0000 (jsonb cannot store it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iep.kit.jsontree import MAX_BODY_DEPTH, MAX_DATA_DEPTH
from tests.conftest import TenantKey

BASE = {"to": ["user@example.com"], "from": "App <app@product.example>", "subject": "Hi", "textBody": "Hello"}


def nested(levels: int, leaf: Any = 1, *, lists: bool = False) -> Any:
    """`levels` containers, the outermost included."""
    value = leaf
    for _ in range(levels):
        value = [value] if lists else {"a": value}
    return value


@pytest.mark.parametrize("field", ["metadata", "variables", "templateData"])
@pytest.mark.parametrize("levels", [MAX_DATA_DEPTH + 1, 255, 300], ids=["limit+1", "255", "300"])
async def test_deep_data_is_a_422_naming_the_field(
    api: httpx.AsyncClient, tenant: TenantKey, field: str, levels: int
) -> None:
    body = {**BASE, field: nested(levels)}
    if field == "templateData":
        body = {**body, "template": "welcome"}
        body.pop("textBody")
    resp = await api.post("/v1/messages", json=body, headers=tenant.headers)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    # Past the body's own bound the body is refused whole, before any field is read.
    expected = field if levels < MAX_BODY_DEPTH else ""
    assert expected in [e["field"] for e in resp.json()["errors"]]


async def test_data_at_the_limit_is_accepted(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    body = {**BASE, "metadata": nested(MAX_DATA_DEPTH), "variables": {"v": nested(MAX_DATA_DEPTH - 1, lists=True)}}
    resp = await api.post("/v1/messages", json=body, headers=tenant.headers)
    assert resp.status_code == 202, resp.text


@pytest.mark.parametrize(
    "path", ["/v1/messages", "/v1/send", "/v1/suppressions", "/v1/webhooks"], ids=["messages", "send", "sup", "wh"]
)
async def test_any_deep_body_is_a_422(api: httpx.AsyncClient, tenant: TenantKey, path: str) -> None:
    resp = await api.post(path, json={"x": nested(MAX_BODY_DEPTH + 5, lists=True)}, headers=tenant.headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["code"] == "depth"


@pytest.mark.parametrize(
    "data",
    [{"k": "a\x00b"}, {"a\x00": 1}, {"list": ["x", {"deep": "\x00"}]}],
    ids=["value", "key", "nested"],
)
@pytest.mark.parametrize("field", ["metadata", "variables"])
async def test_nul_in_data_is_a_422(api: httpx.AsyncClient, tenant: TenantKey, field: str, data: Any) -> None:
    resp = await api.post("/v1/messages", json={**BASE, field: data}, headers=tenant.headers)
    assert resp.status_code == 422, resp.text
    assert field in [e["field"] for e in resp.json()["errors"]]
