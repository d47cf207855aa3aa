"""S7: another tenant's message id answers exactly like an id that does not exist."""

from __future__ import annotations

import uuid

import httpx

from iep.bootstrap import Container
from tests.conftest import TenantKey, make_tenant

PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


def _strip(resp: httpx.Response) -> tuple[int, str, dict[str, object]]:
    body = resp.json()
    body.pop("instance", None)
    return resp.status_code, resp.headers["content-type"], body


async def test_other_tenants_ids_are_indistinguishable_from_missing(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    intruder = await make_tenant(container, "intruder")
    owned = (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).json()["messageId"]
    missing = str(uuid.uuid4())
    for method, path in (
        ("GET", "/v1/messages/{id}"),
        ("POST", "/v1/messages/{id}/retry"),
        ("POST", "/v1/messages/{id}/cancel"),
    ):
        foreign = await api.request(method, path.format(id=owned), headers=intruder.headers)
        absent = await api.request(method, path.format(id=missing), headers=intruder.headers)
        assert foreign.status_code == 404, (method, path)
        assert _strip(foreign) == _strip(absent), (method, path)
    listing = await api.get("/v1/messages", headers=intruder.headers)
    assert listing.json()["data"] == []
    # The owner still sees it, untouched by the attempts.
    mine = await api.get(f"/v1/messages/{owned}", headers=tenant.headers)
    assert mine.json()["status"] == "queued"


async def test_a_malformed_id_is_a_404_too(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    resp = await api.get("/v1/messages/not-a-uuid", headers=tenant.headers)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
