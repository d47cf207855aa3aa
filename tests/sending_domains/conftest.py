"""Fixtures for sender domains: a real DNS server on loopback serving a zone each test writes, the test
container pointed at it (with an encryption key for DKIM keys), and tenants with admin keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from iep.kit.crypto import KeyRing
from iep.tenancy import auth as tenancy_auth
from tests.conftest import TenantKey, make_tenant
from tests.support.dns_server import Zone, dns_server

ENCRYPTION_KEY = f"k1:{KeyRing.generate_key()}"
BOUNCE_DOMAIN = "bounces.iep.test"
SPF_INCLUDE = f"_spf.{BOUNCE_DOMAIN}"
ADMIN = ("send", "read", "admin")


@pytest.fixture
def zone() -> Zone:
    return Zone()


@pytest.fixture
def nameserver(zone: Zone) -> Iterator[str]:
    with dns_server(zone) as address:
        yield address


@pytest.fixture
def domains(container: Container, nameserver: str, monkeypatch: pytest.MonkeyPatch) -> Container:
    """The test container as an operator would run it: verified senders required, DNS at the test server."""
    container.settings = container.settings.model_copy(
        update={
            "iep_encryption_key": ENCRYPTION_KEY,
            "dns_nameservers": nameserver,
            "dns_timeout_seconds": 2.0,
            "bounce_domain": BOUNCE_DOMAIN,
        }
    )
    assert container.limits.require_verified_senders  # the default outside `dev`
    # A verification shows in the next request's context (in production: within a second).
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)
    return container


async def bare_tenant(container: Container, slug: str) -> TenantKey:
    """A tenant with an admin key and no sender domain at all."""
    return await make_tenant(container, slug, scopes=ADMIN, verified_domains=())


@dataclass
class Added:
    id: str
    domain: str
    records: dict[str, dict[str, Any]]  # purpose → {type, name, value, required}


async def add_domain(api: httpx.AsyncClient, tenant: TenantKey, domain: str) -> Added:
    resp = await api.post("/v1/domains", json={"domain": domain}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return Added(body["id"], body["domain"], {r["purpose"]: r for r in body["records"]})


def publish(zone: Zone, added: Added, *, skip: tuple[str, ...] = ()) -> None:
    """Publish the records exactly as the answer to POST /v1/domains says (but those in `skip`)."""
    for purpose, record in added.records.items():
        if purpose in skip:
            continue
        if record["type"] == "CNAME":
            zone.cname(record["name"], record["value"])
        else:
            zone.txt(record["name"], record["value"])


async def verify(api: httpx.AsyncClient, tenant: TenantKey, added: Added) -> dict[str, Any]:
    resp = await api.post(f"/v1/domains/{added.id}/verify", headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def by_purpose(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["purpose"]: r for r in result["records"]}
