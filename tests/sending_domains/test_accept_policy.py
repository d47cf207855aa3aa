"""A2 + S5 at accept: only the tenant's own domains send, and with SENDER_DOMAINS_REQUIRE_VERIFIED (the
default outside `dev`) only verified ones; a tenant without domains never sends. The answer is a 422 on
`from` that names the domain and what to do."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from iep.bootstrap import Container
from tests.conftest import TenantKey, make_tenant
from tests.sending_domains.conftest import ADMIN, add_domain, bare_tenant, publish, verify
from tests.support.dns_server import Zone


def _mail(sender: str) -> dict[str, Any]:
    return {"to": ["ada@example.com"], "from": sender, "subject": "Hi", "textBody": "Hello"}


async def _send(api: httpx.AsyncClient, tenant: TenantKey, sender: str) -> httpx.Response:
    return await api.post("/v1/messages", json=_mail(sender), headers=tenant.headers)


def _from_error(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["type"].endswith("/validation")
    (error,) = [e for e in body["errors"] if e["field"] == "from"]
    return dict(error)


async def test_a_domain_sends_only_once_verified(api: httpx.AsyncClient, domains: Container, zone: Zone) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, "shop.example")

    error = _from_error(await _send(api, tenant, "orders@shop.example"))
    assert error["code"] == "sender_domain_unverified"
    assert "'shop.example' is not verified" in error["message"]
    assert "POST /v1/domains/{id}/verify" in error["message"]

    publish(zone, added)
    assert (await verify(api, tenant, added))["verified"] is True
    sent = await _send(api, tenant, "Orders <orders@shop.example>")
    assert sent.status_code == 202, sent.text


async def test_a_tenant_without_domains_cannot_send_at_all(api: httpx.AsyncClient, domains: Container) -> None:
    tenant = await bare_tenant(domains, "acme")
    error = _from_error(await _send(api, tenant, "app@anything.example"))
    assert error["code"] == "sender_domains_missing"
    assert "'anything.example'" in error["message"]
    assert "POST /v1/domains" in error["message"]


async def test_a_domain_not_on_the_list_is_refused(api: httpx.AsyncClient, domains: Container) -> None:
    tenant = await make_tenant(domains, "acme", scopes=ADMIN)  # product.example, verified
    assert (await _send(api, tenant, "app@product.example")).status_code == 202
    error = _from_error(await _send(api, tenant, "app@elsewhere.example"))
    assert error["code"] == "sender_domain_not_allowed"
    assert "'elsewhere.example' is not one of this tenant's sender domains" in error["message"]
    # A subdomain is another domain: it needs its own records.
    assert _from_error(await _send(api, tenant, "app@mail.product.example"))["code"] == "sender_domain_not_allowed"


async def test_the_error_is_one_of_every_field_error(api: httpx.AsyncClient, domains: Container) -> None:
    tenant = await bare_tenant(domains, "acme")
    resp = await api.post("/v1/messages", json={**_mail("x@nowhere.example"), "to": []}, headers=tenant.headers)
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"from", "to"} <= fields


async def test_when_not_required_any_listed_domain_sends(api: httpx.AsyncClient, domains: Container) -> None:
    domains.limits = dataclasses.replace(domains.limits, require_verified_senders=False)
    tenant = await bare_tenant(domains, "acme")
    await add_domain(api, tenant, "shop.example")  # listed, never verified
    assert (await _send(api, tenant, "orders@shop.example")).status_code == 202
    assert _from_error(await _send(api, tenant, "orders@other.example"))["code"] == "sender_domain_not_allowed"
    bare = await bare_tenant(domains, "empty")
    assert _from_error(await _send(api, bare, "a@shop.example"))["code"] == "sender_domains_missing"


async def test_another_tenants_verified_domain_does_not_let_this_tenant_send(
    api: httpx.AsyncClient, domains: Container, zone: Zone
) -> None:
    owner = await bare_tenant(domains, "owner")
    added = await add_domain(api, owner, "shop.example")
    publish(zone, added)
    assert (await verify(api, owner, added))["verified"] is True
    assert (await _send(api, owner, "a@shop.example")).status_code == 202

    intruder = await make_tenant(domains, "intruder", scopes=ADMIN)
    assert _from_error(await _send(api, intruder, "a@shop.example"))["code"] == "sender_domain_not_allowed"
    # Adding the same name gives the intruder its own, unverified entry: still refused.
    await add_domain(api, intruder, "shop.example")
    assert _from_error(await _send(api, intruder, "a@shop.example"))["code"] == "sender_domain_unverified"


async def test_an_internationalized_domain_matches_its_a_label(
    api: httpx.AsyncClient, domains: Container, zone: Zone
) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, "Bücher.Example.")
    assert added.domain == "xn--bcher-kva.example"
    assert added.records["return_path"]["name"] == "bounces.xn--bcher-kva.example"
    publish(zone, added)
    assert (await verify(api, tenant, added))["verified"] is True
    assert (await _send(api, tenant, "info@bücher.example")).status_code == 202
    assert (await _send(api, tenant, "info@xn--bcher-kva.example")).status_code == 202


async def test_a_removed_domain_stops_sending(api: httpx.AsyncClient, domains: Container, zone: Zone) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, "shop.example")
    publish(zone, added)
    await verify(api, tenant, added)
    assert (await _send(api, tenant, "a@shop.example")).status_code == 202
    assert (await api.delete(f"/v1/domains/{added.id}", headers=tenant.headers)).status_code == 204
    assert _from_error(await _send(api, tenant, "a@shop.example"))["code"] == "sender_domains_missing"
