"""S1: the operator's admin API under /v1/admin/tenants, opened only by IEP_ADMIN_TOKEN."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from iep.bootstrap import Container
from iep.config import ConfigError, load_settings
from iep.tenancy import auth as tenancy_auth
from tests.conftest import TenantKey, make_tenant, verify_domains

TOKEN = "operator-" + "0123456789abcdef" * 3
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
PROBLEM_JSON = "application/problem+json"
SEND = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


@pytest.fixture
def admin_on(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container.settings, "iep_admin_token", SecretStr(TOKEN))


def _problem(resp: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = resp.json()
    assert body["type"].endswith(f"/{kind}"), body
    assert body["status"] == status
    return body


async def test_the_operator_creates_lists_updates_suspends_and_activates(
    api: httpx.AsyncClient, container: Container, admin_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)
    created = await api.post(
        "/v1/admin/tenants",
        json={"name": "Acme Corp", "settings": {"fallbackProvider": "ses", "team": "billing"}},
        headers=OPERATOR,
    )
    assert created.status_code == 201, created.text
    acme = created.json()
    assert acme["slug"] == "acme-corp"
    assert acme["active"] is True
    assert acme["settings"] == {"fallbackProvider": "ses", "team": "billing"}
    assert created.headers["location"] == "/v1/admin/tenants/acme-corp"

    other = await api.post("/v1/admin/tenants", json={"name": "Other", "slug": "other-co"}, headers=OPERATOR)
    assert other.status_code == 201, other.text
    listed = await api.get("/v1/admin/tenants", headers=OPERATOR)
    assert [t["slug"] for t in listed.json()["data"]] == ["acme-corp", "other-co"]

    patched = await api.patch(
        "/v1/admin/tenants/acme-corp",
        json={"name": "Acme Inc", "settings": {"team": None, "max_per_minute": 100}},
        headers=OPERATOR,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Acme Inc"
    assert patched.json()["settings"] == {"fallbackProvider": "ses", "max_per_minute": 100}
    shown = await api.get("/v1/admin/tenants/acme-corp", headers=OPERATOR)
    assert shown.json() == patched.json()

    # The operator issues the tenant's first key; it works on the tenant API.
    issued = await api.post("/v1/admin/tenants/acme-corp/keys", json={"scopes": ["send", "admin"]}, headers=OPERATOR)
    assert issued.status_code == 201, issued.text
    tenant_headers = {"Authorization": f"Bearer {issued.json()['key']}"}
    await verify_domains(container, "acme-corp")
    assert (await api.post("/v1/messages", json=SEND, headers=tenant_headers)).status_code == 202

    suspended = await api.post("/v1/admin/tenants/acme-corp/suspend", headers=OPERATOR)
    assert suspended.status_code == 200
    assert suspended.json()["active"] is False
    _problem(await api.post("/v1/messages", json=SEND, headers=tenant_headers), 403, "tenant-suspended")
    _problem(await api.get("/v1/keys", headers=tenant_headers), 403, "tenant-suspended")

    activated = await api.post("/v1/admin/tenants/acme-corp/activate", headers=OPERATOR)
    assert activated.status_code == 200
    assert activated.json()["active"] is True
    assert activated.json()["requeued"] == 0
    assert (await api.post("/v1/messages", json=SEND, headers=tenant_headers)).status_code == 202


async def test_refusals_are_problems(api: httpx.AsyncClient, admin_on: None) -> None:
    await api.post("/v1/admin/tenants", json={"name": "Acme", "slug": "acme"}, headers=OPERATOR)
    _problem(
        await api.post("/v1/admin/tenants", json={"name": "Acme", "slug": "acme"}, headers=OPERATOR), 409, "conflict"
    )
    bad_slug = await api.post("/v1/admin/tenants", json={"name": "X", "slug": "Not A Slug"}, headers=OPERATOR)
    assert _problem(bad_slug, 422, "validation")["errors"][0]["field"] == "slug"
    _problem(await api.post("/v1/admin/tenants", json={"slug": "x"}, headers=OPERATOR), 422, "validation")
    _problem(await api.patch("/v1/admin/tenants/acme", json={"settings": []}, headers=OPERATOR), 422, "validation")
    _problem(await api.patch("/v1/admin/tenants/acme", content=b"{", headers=OPERATOR), 400, "malformed-request")
    # Limits follow the limits' own rules whichever way they are set (SPEC §3: integers, 0 = unlimited).
    bad_limit = await api.patch("/v1/admin/tenants/acme", json={"settings": {"burst": -5}}, headers=OPERATOR)
    assert _problem(bad_limit, 422, "validation")["errors"][0]["field"] == "settings"
    quota = await api.patch("/v1/admin/tenants/acme", json={"settings": {"monthly_quota": 50}}, headers=OPERATOR)
    assert quota.json()["settings"]["monthly_quota"] == 50
    for method, path in (
        ("GET", "/v1/admin/tenants/nope"),
        ("PATCH", "/v1/admin/tenants/nope"),
        ("POST", "/v1/admin/tenants/nope/suspend"),
        ("POST", "/v1/admin/tenants/nope/activate"),
        ("POST", "/v1/admin/tenants/nope/keys"),
    ):
        body = {"name": "N"} if method == "PATCH" else {"scopes": ["send"]}
        _problem(await api.request(method, path, json=body, headers=OPERATOR), 404, "not-found")


@pytest.mark.parametrize("scopes", [("admin",), ("send", "read", "admin"), ("read",)], ids=["admin", "all", "read"])
async def test_no_tenant_key_opens_the_admin_api(
    api: httpx.AsyncClient, container: Container, admin_on: None, scopes: tuple[str, ...]
) -> None:
    tenant = await make_tenant(container, "acme", scopes=scopes)
    presentations = (tenant.headers, {"X-Api-Key": tenant.key})
    for headers in presentations:
        _problem(await api.get("/v1/admin/tenants", headers=headers), 403, "operator-only")
        _problem(await api.post("/v1/admin/tenants/acme/activate", headers=headers), 403, "operator-only")
        _problem(await api.post("/v1/admin/tenants", json={"name": "Evil"}, headers=headers), 403, "operator-only")
    listed = await api.get("/v1/admin/tenants", headers=OPERATOR)
    assert [t["slug"] for t in listed.json()["data"]] == ["acme"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "}],
    ids=["none", "wrong-token", "basic-scheme", "empty-bearer"],
)
async def test_missing_or_wrong_operator_token_is_401(
    api: httpx.AsyncClient, tenant: TenantKey, admin_on: None, headers: dict[str, str]
) -> None:
    del tenant
    for method, path in (("GET", "/v1/admin/tenants"), ("POST", "/v1/admin/tenants/acme/suspend")):
        resp = await api.request(method, path, headers=headers)
        _problem(resp, 401, "unauthenticated")
        assert resp.headers["www-authenticate"].startswith("Bearer")
    assert (await api.get("/v1/messages", headers={"Authorization": "Bearer x"})).status_code == 401


async def test_without_a_token_configured_the_admin_api_is_off(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    assert container.settings.iep_admin_token is None
    for headers in ({}, OPERATOR, tenant.headers):
        _problem(await api.get("/v1/admin/tenants", headers=headers), 404, "not-found")
        _problem(await api.post("/v1/admin/tenants/acme/suspend", headers=headers), 404, "not-found")
    assert (await api.get("/v1/messages", headers=tenant.headers)).status_code == 200  # acme untouched


def test_a_short_admin_token_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="IEP_ADMIN_TOKEN"):
        load_settings(iep_admin_token="short")
    assert load_settings(iep_admin_token="").iep_admin_token is None
    assert load_settings(iep_admin_token=TOKEN).iep_admin_token is not None


async def test_the_admin_api_is_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"/v1/admin/tenants", "/v1/admin/tenants/{slug}", "/v1/keys", "/v1/keys/{prefix}/rotate"} <= set(paths)
    assert "403" in paths["/v1/admin/tenants"]["get"]["responses"]
