"""A10 + S7 for sender domains: the API's answers, scopes, duplicates, bad names, and another tenant's ids."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from iep.bootstrap import Container
from iep.kit.driver import Driver
from iep.sending_domains.models import dkim_keys
from iep.tenancy import auth as tenancy_auth
from iep.tenancy import service as tenancy
from tests.conftest import make_tenant
from tests.sending_domains.conftest import add_domain, bare_tenant


def _problem(resp: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = resp.json()
    assert str(body["type"]).endswith("/" + kind), body
    return body


async def test_add_list_show_remove(api: httpx.AsyncClient, domains: Container) -> None:
    tenant = await bare_tenant(domains, "acme")
    resp = await api.post("/v1/domains", json={"domain": "Shop.Example."}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert resp.headers["location"] == f"/v1/domains/{created['id']}"
    assert (created["domain"], created["verified"], created["lastCheck"]) == ("shop.example", False, None)
    assert [r["purpose"] for r in created["records"]] == ["spf", "dkim", "return_path", "dmarc"]
    async with domains.engine.connect() as conn:
        stored = (await conn.execute(select(dkim_keys.c.private_key_encrypted, dkim_keys.c.domain))).one()
    assert stored.domain == "shop.example"
    assert "PRIVATE KEY" not in stored.private_key_encrypted

    listed = (await api.get("/v1/domains", headers=tenant.headers)).json()["data"]
    assert listed == [created]
    assert (await api.get(f"/v1/domains/{created['id']}", headers=tenant.headers)).json() == created

    assert (await api.delete(f"/v1/domains/{created['id']}", headers=tenant.headers)).status_code == 204
    _problem(await api.get(f"/v1/domains/{created['id']}", headers=tenant.headers), 404, "not-found")
    assert (await api.get("/v1/domains", headers=tenant.headers)).json()["data"] == []
    async with domains.engine.connect() as conn:
        assert (await conn.execute(select(dkim_keys.c.id))).all() == []  # the key went with it


@pytest.mark.parametrize("spelling", ["shop.example", "SHOP.example", "shop.example."])
async def test_a_duplicate_is_a_409(api: httpx.AsyncClient, domains: Container, spelling: str) -> None:
    tenant = await bare_tenant(domains, "acme")
    await add_domain(api, tenant, "shop.example")
    body = _problem(
        await api.post("/v1/domains", json={"domain": spelling}, headers=tenant.headers), 409, "domain-exists"
    )
    assert body["domain"] == "shop.example"


async def test_an_idn_and_its_a_label_are_the_same_domain(api: httpx.AsyncClient, domains: Container) -> None:
    tenant = await bare_tenant(domains, "acme")
    await add_domain(api, tenant, "bücher.example")
    resp = await api.post("/v1/domains", json={"domain": "xn--bcher-kva.example"}, headers=tenant.headers)
    _problem(resp, 409, "domain-exists")


@pytest.mark.parametrize(
    "bad",
    ["localhost", "https://shop.example", "a@shop.example", "shop..example", "-shop.example", "10.0.0.1",
     "shop_1.example", "x" * 64 + ".example", ""],
    ids=["one-label", "url", "address", "empty-label", "hyphen", "ip", "underscore", "long-label", "empty"],
)  # fmt: skip
async def test_what_is_not_a_domain_is_a_422(api: httpx.AsyncClient, domains: Container, bad: str) -> None:
    tenant = await bare_tenant(domains, "acme")
    body = _problem(await api.post("/v1/domains", json={"domain": bad}, headers=tenant.headers), 422, "validation")
    assert [e["field"] for e in body["errors"]] == ["domain"]  # type: ignore[attr-defined]


async def test_scopes(api: httpx.AsyncClient, domains: Container) -> None:
    admin = await bare_tenant(domains, "acme")
    added = await add_domain(api, admin, "shop.example")
    reader = await make_tenant(domains, "reader", scopes=("read",), verified_domains=())
    # Keys of the same tenant with fewer scopes.
    async with domains.engine.begin() as conn:
        _, read_key = await tenancy.create_key(conn, tenant_slug="acme", scopes=["read"])
        _, send_key = await tenancy.create_key(conn, tenant_slug="acme", scopes=["send"])
    read, send = {"Authorization": f"Bearer {read_key}"}, {"Authorization": f"Bearer {send_key}"}
    assert (await api.get("/v1/domains", headers=read)).status_code == 200
    assert (await api.get(f"/v1/domains/{added.id}", headers=read)).status_code == 200
    _problem(await api.post("/v1/domains", json={"domain": "b.example"}, headers=read), 403, "forbidden")
    _problem(await api.post(f"/v1/domains/{added.id}/verify", headers=read), 403, "forbidden")
    _problem(await api.delete(f"/v1/domains/{added.id}", headers=read), 403, "forbidden")
    _problem(await api.get("/v1/domains", headers=send), 403, "forbidden")
    assert (await api.get("/v1/domains", headers=reader.headers)).json()["data"] == []
    _problem(await api.get("/v1/domains"), 401, "unauthenticated")


async def test_another_tenants_domain_is_indistinguishable_from_a_missing_one(
    api: httpx.AsyncClient, domains: Container
) -> None:
    owner = await bare_tenant(domains, "owner")
    intruder = await bare_tenant(domains, "intruder")
    owned = await add_domain(api, owner, "shop.example")
    missing = str(uuid.uuid4())
    for method, path in (
        ("GET", "/v1/domains/{id}"),
        ("DELETE", "/v1/domains/{id}"),
        ("POST", "/v1/domains/{id}/verify"),
    ):
        foreign = await api.request(method, path.format(id=owned.id), headers=intruder.headers)
        absent = await api.request(method, path.format(id=missing), headers=intruder.headers)
        malformed = await api.request(method, path.format(id="not-a-uuid"), headers=intruder.headers)
        for resp in (foreign, absent, malformed):
            _problem(resp, 404, "not-found")
        strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
        assert strip(foreign) == strip(absent) == strip(malformed), (method, path)
    assert (await api.get("/v1/domains", headers=intruder.headers)).json()["data"] == []
    # The owner's domain is untouched by the attempts.
    shown = (await api.get(f"/v1/domains/{owned.id}", headers=owner.headers)).json()
    assert (shown["domain"], shown["checkedAt"]) == ("shop.example", None)


async def test_without_an_encryption_key_no_domain_can_be_added(api: httpx.AsyncClient, domains: Container) -> None:
    domains.settings = domains.settings.model_copy(update={"iep_encryption_key": None})
    tenant = await bare_tenant(domains, "acme")
    resp = await api.post("/v1/domains", json={"domain": "shop.example"}, headers=tenant.headers)
    _problem(resp, 503, "encryption-unavailable")
    assert (await api.get("/v1/domains", headers=tenant.headers)).json()["data"] == []


async def test_the_sender_check_adds_no_query_to_an_accept(
    api: httpx.AsyncClient, domains: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC B2: the tenant's domains travel with its cached key; an accept stays one statement."""
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 3600.0)
    tenant = await make_tenant(domains, "acme")
    mail = {"to": ["a@example.com"], "from": "app@product.example", "subject": "S", "textBody": "T"}
    assert (await api.post("/v1/messages", json=mail, headers=tenant.headers)).status_code == 202  # warms the cache
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    # The accept's write runs on asyncpg directly (kit/driver.py), out of SQLAlchemy's sight.
    on_driver, one_on_driver = Driver.fetchmany, Driver.fetch

    async def fetchmany(driver: Driver, statement: Any, rows: Any) -> Any:
        statements.append(str(statement))
        return await on_driver(driver, statement, rows)

    async def fetch(driver: Driver, statement: Any, params: Any) -> Any:
        statements.append(str(statement))
        return await one_on_driver(driver, statement, params)

    monkeypatch.setattr(Driver, "fetchmany", fetchmany)
    monkeypatch.setattr(Driver, "fetch", fetch)
    event.listen(domains.engine.sync_engine, "before_cursor_execute", count)
    try:
        assert (await api.post("/v1/messages", json=mail, headers=tenant.headers)).status_code == 202
        refused = await api.post("/v1/messages", json={**mail, "from": "a@else.example"}, headers=tenant.headers)
        assert refused.status_code == 422
    finally:
        event.remove(domains.engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements  # the accept itself; the refusal costs none
