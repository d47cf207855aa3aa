"""S5: verification against a real DNS server on loopback. The happy path, and broken setups each
diagnosed by record name with what was expected and what DNS returned (or the DNS error)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iep.bootstrap import Container
from tests.sending_domains.conftest import (
    BOUNCE_DOMAIN,
    SPF_INCLUDE,
    Added,
    add_domain,
    bare_tenant,
    by_purpose,
    publish,
    verify,
)
from tests.support.dns_server import Zone, silent_nameserver

DOMAIN = "shop.example"


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _p(added: Added) -> str:
    return str(added.records["dkim"]["value"]).split("p=", 1)[1]


async def test_published_records_verify_and_are_reported_one_by_one(
    api: httpx.AsyncClient, domains: Container, zone: Zone
) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, DOMAIN)
    records = added.records
    assert records["spf"] == {
        "purpose": "spf", "type": "TXT", "name": DOMAIN, "value": f"v=spf1 include:{SPF_INCLUDE} ~all",
        "required": True,
    }  # fmt: skip
    assert records["dkim"]["name"].endswith(f"._domainkey.{DOMAIN}")
    assert records["dkim"]["value"].startswith("v=DKIM1; k=rsa; p=MII")
    assert records["return_path"] == {
        "purpose": "return_path", "type": "CNAME", "name": f"bounces.{DOMAIN}", "value": BOUNCE_DOMAIN,
        "required": True,
    }  # fmt: skip
    assert records["dmarc"]["name"] == f"_dmarc.{DOMAIN}"
    assert records["dmarc"]["required"] is False

    publish(zone, added)
    # Other TXT records at the domain do not matter; these make its answer too big for 512 bytes of UDP.
    for n in range(4):
        zone.txt(DOMAIN, f"site-verification-{n}=" + "x" * 200)
    result = await verify(api, tenant, added)
    assert result["verified"] is True, result
    checks = by_purpose(result)
    for purpose, check in checks.items():
        assert check["ok"] is True, check
        assert check["error"] is None
        assert check["expected"] == records[purpose]["value"]
        assert check["name"] == records[purpose]["name"]
    assert checks["spf"]["found"] == [records["spf"]["value"]]
    assert checks["dkim"]["found"] == [records["dkim"]["value"]]
    assert checks["return_path"]["found"] == [BOUNCE_DOMAIN]
    assert checks["dmarc"]["policy"] == "none"
    # The truncated UDP answer was asked again over TCP.
    assert [q for q in zone.queries if q[0] == DOMAIN] == [(DOMAIN, "TXT", "udp"), (DOMAIN, "TXT", "tcp")]

    shown = (await api.get(f"/v1/domains/{added.id}", headers=tenant.headers)).json()
    assert shown["verified"] is True
    assert shown["verifiedAt"] is not None
    assert shown["lastCheck"] == result["records"]


async def test_records_delegated_by_cname_to_another_zone_are_followed(
    api: httpx.AsyncClient, domains: Container, zone: Zone
) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, DOMAIN)
    publish(zone, added, skip=("dkim", "return_path"))
    # As with a DNS host that delegates: each hop is a separate query, answered by "another server".
    zone.follow_cnames = False
    zone.cname(added.records["dkim"]["name"], "key1.keys.dnshost.example")
    zone.txt("key1.keys.dnshost.example", added.records["dkim"]["value"])
    zone.cname(f"bounces.{DOMAIN}", "rp.dnshost.example").cname("rp.dnshost.example", BOUNCE_DOMAIN)
    result = await verify(api, tenant, added)
    checks = by_purpose(result)
    assert result["verified"] is True, result
    assert checks["dkim"]["found"] == [added.records["dkim"]["value"]]
    assert checks["return_path"]["found"] == ["rp.dnshost.example", BOUNCE_DOMAIN]


@dataclass(frozen=True)
class Broken:
    breaks: Callable[[Zone, Added], Any]
    record: str  # the purpose of the record at fault
    error: str | None  # the DNS error reported, if any
    found: Callable[[Added], list[str]]
    detail: Callable[[Added], str]
    verified: bool = False


def _replace(purpose: str, value: str) -> Callable[[Zone, Added], Any]:
    def breaks(zone: Zone, added: Added) -> None:
        name = added.records[purpose]["name"]
        zone.drop(name)
        zone.txt(name, value)

    return breaks


WRONG_KEY = f"v=DKIM1; k=rsa; p={_other_key()}"
BROKEN = {
    "spf-missing-the-include": Broken(
        _replace("spf", "v=spf1 include:_spf.google.com ~all"),
        "spf",
        None,
        lambda a: ["v=spf1 include:_spf.google.com ~all"],
        lambda a: f"lacks `include:{SPF_INCLUDE}`",
    ),
    "spf-two-records": Broken(
        lambda z, a: z.txt(DOMAIN, "v=spf1 mx -all"),
        "spf",
        None,
        lambda a: [a.records["spf"]["value"], "v=spf1 mx -all"],
        lambda a: "2 SPF records",
    ),
    "spf-absent": Broken(
        _replace("spf", "google-site-verification=abc"),
        "spf",
        None,
        lambda a: [],
        lambda a: f"no SPF record (a TXT starting with v=spf1) at {DOMAIN}",
    ),
    "dkim-value-wrong": Broken(
        _replace("dkim", WRONG_KEY),
        "dkim",
        None,
        lambda a: [WRONG_KEY],
        lambda a: "p= is a different key",
    ),
    "dkim-truncated": Broken(
        lambda z, a: _replace("dkim", f"v=DKIM1; k=rsa; p={_p(a)[:255]}")(z, a),
        "dkim",
        None,
        lambda a: [f"v=DKIM1; k=rsa; p={_p(a)[:255]}"],
        lambda a: f"p= is truncated (255 of {len(_p(a))} characters)",
    ),
    "dkim-revoked": Broken(
        _replace("dkim", "v=DKIM1; k=rsa; p="),
        "dkim",
        None,
        lambda a: ["v=DKIM1; k=rsa; p="],
        lambda a: "p= is empty",
    ),
    "dkim-missing": Broken(
        lambda z, a: z.drop(a.records["dkim"]["name"]),
        "dkim",
        "NXDOMAIN",
        lambda a: [],
        lambda a: f"TXT lookup of {a.records['dkim']['name']} failed: NXDOMAIN",
    ),
    "dkim-cname-loop": Broken(
        lambda z, a: (
            z.drop(a.records["dkim"]["name"])
            .cname(a.records["dkim"]["name"], f"k.{DOMAIN}")
            .cname(f"k.{DOMAIN}", a.records["dkim"]["name"])
        ),
        "dkim",
        "CNAME loop",
        lambda a: [],
        lambda a: "CNAME loop",
    ),
    "dmarc-missing": Broken(
        lambda z, a: z.drop(f"_dmarc.{DOMAIN}"),
        "dmarc",
        "NXDOMAIN",
        lambda a: [],
        lambda a: "no DMARC record: NXDOMAIN; publish at least `v=DMARC1; p=none`",
        verified=True,  # advised, not required: reported as a warning
    ),
    "return-path-missing": Broken(
        lambda z, a: z.drop(f"bounces.{DOMAIN}"),
        "return_path",
        "NXDOMAIN",
        lambda a: [],
        lambda a: f"CNAME lookup of bounces.{DOMAIN} failed: NXDOMAIN",
    ),
    "return-path-elsewhere": Broken(
        lambda z, a: z.drop(f"bounces.{DOMAIN}").cname(f"bounces.{DOMAIN}", "mail.other.example"),
        "return_path",
        None,
        lambda a: ["mail.other.example"],
        lambda a: f"is a CNAME to mail.other.example, not to {BOUNCE_DOMAIN}",
    ),
    "return-path-cname-loop": Broken(
        lambda z, a: (
            z.drop(f"bounces.{DOMAIN}")
            .cname(f"bounces.{DOMAIN}", f"rp.{DOMAIN}")
            .cname(f"rp.{DOMAIN}", f"bounces.{DOMAIN}")
        ),
        "return_path",
        "CNAME loop",
        lambda a: [f"rp.{DOMAIN}", f"bounces.{DOMAIN}"],
        lambda a: f"failed: CNAME loop (via CNAME rp.{DOMAIN} → bounces.{DOMAIN})",
    ),
}


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
async def test_a_broken_setup_is_diagnosed_by_record(
    api: httpx.AsyncClient, domains: Container, zone: Zone, case: Broken
) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, DOMAIN)
    publish(zone, added)
    case.breaks(zone, added)
    result = await verify(api, tenant, added)
    assert result["verified"] is case.verified, result
    checks = by_purpose(result)
    bad = checks[case.record]
    assert bad["ok"] is False, bad
    assert bad["name"] == added.records[case.record]["name"]
    assert bad["expected"] == added.records[case.record]["value"]
    assert bad["found"] == case.found(added)
    assert bad["error"] == case.error
    assert case.detail(added) in bad["detail"], bad["detail"]
    # Only the broken record is reported as broken.
    assert [p for p, c in checks.items() if not c["ok"]] == [case.record]
    listed = (await api.get("/v1/domains", headers=tenant.headers)).json()["data"]
    assert [(d["domain"], d["verified"]) for d in listed] == [(DOMAIN, case.verified)]


async def test_a_domain_missing_from_dns_fails_every_record_with_nxdomain(
    api: httpx.AsyncClient, domains: Container
) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, DOMAIN)  # nothing published at all
    result = await verify(api, tenant, added)
    assert result["verified"] is False
    for check in result["records"]:
        assert (check["ok"], check["error"], check["found"]) == (False, "NXDOMAIN", []), check
        assert check["expected"] == added.records[check["purpose"]]["value"]


async def test_a_name_server_that_never_answers_times_out_within_the_bound(
    api: httpx.AsyncClient, domains: Container
) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, DOMAIN)
    with silent_nameserver() as silent:
        domains.settings = domains.settings.model_copy(update={"dns_nameservers": silent, "dns_timeout_seconds": 0.5})
        started = time.monotonic()
        result = await verify(api, tenant, added)
        elapsed = time.monotonic() - started
    assert elapsed < 3.0  # the four lookups run side by side, each bounded by DNS_TIMEOUT_SECONDS
    assert result["verified"] is False
    assert {(c["purpose"], c["error"], c["ok"]) for c in result["records"]} == {
        (p, "timeout", False) for p in ("spf", "dkim", "return_path", "dmarc")
    }


async def test_a_domain_that_stops_verifying_is_no_longer_verified(
    api: httpx.AsyncClient, domains: Container, zone: Zone
) -> None:
    tenant = await bare_tenant(domains, "acme")
    added = await add_domain(api, tenant, DOMAIN)
    publish(zone, added)
    assert (await verify(api, tenant, added))["verified"] is True
    zone.drop(added.records["dkim"]["name"])
    assert (await verify(api, tenant, added))["verified"] is False
    shown = (await api.get(f"/v1/domains/{added.id}", headers=tenant.headers)).json()
    assert (shown["verified"], shown["verifiedAt"]) == (False, None)
