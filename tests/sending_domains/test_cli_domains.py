"""P7 + S5: `iep domains add|verify|list|remove --tenant SLUG`, the real console script against the test
database and the loopback DNS server."""

from __future__ import annotations

import json
from typing import Any

from iep.bootstrap import Container
from tests.entrypoints.test_cli import iep, ok_json, refused
from tests.sending_domains.conftest import BOUNCE_DOMAIN, ENCRYPTION_KEY, Added, bare_tenant, publish
from tests.support.dns_server import Zone


async def test_add_verify_list_remove(database_url: str, domains: Container, zone: Zone, nameserver: str) -> None:
    await bare_tenant(domains, "acme")
    env = {"IEP_ENCRYPTION_KEY": ENCRYPTION_KEY, "DNS_NAMESERVERS": nameserver, "BOUNCE_DOMAIN": BOUNCE_DOMAIN}

    def run(*args: str) -> Any:
        return iep(database_url, "domains", *args, "--tenant", "acme", **env)

    added = ok_json(run("add", "Shop.Example"))
    assert added["domain"] == "shop.example"
    records = {r["purpose"]: r for r in added["records"]}
    assert records["spf"]["value"] == f"v=spf1 include:_spf.{BOUNCE_DOMAIN} ~all"
    assert records["dkim"]["value"].startswith("v=DKIM1; k=rsa; p=")
    assert "already" in refused(run("add", "shop.example"))

    failed = run("verify", "shop.example")
    message = refused(failed, "shop.example is not verified", "spf (shop.example): TXT lookup")
    assert "return_path (bounces.shop.example): CNAME lookup of bounces.shop.example failed: NXDOMAIN" in message
    assert "dmarc" not in message  # advised, not required
    shown = {r["purpose"]: r for r in json.loads(failed.stdout)["records"]}
    assert shown["dkim"]["expected"] == records["dkim"]["value"]
    assert shown["dkim"]["error"] == "NXDOMAIN"

    publish(zone, Added(added["id"], added["domain"], records))
    verified = ok_json(run("verify", added["id"]))  # by id as well as by name
    assert verified["verified"] is True
    assert all(r["ok"] for r in verified["records"])

    listed = ok_json(run("list"))
    assert [(d["domain"], d["verified"]) for d in listed] == [("shop.example", True)]
    assert ok_json(run("remove", "shop.example"))["removed"] is True
    assert ok_json(run("list")) == []
    refused(run("verify", "shop.example"), "no sender domain 'shop.example'")


async def test_unknown_tenants_and_bad_names_are_refused(database_url: str, domains: Container) -> None:
    await bare_tenant(domains, "acme")
    env = {"IEP_ENCRYPTION_KEY": ENCRYPTION_KEY}
    refused(iep(database_url, "domains", "add", "shop.example", "--tenant", "nope", **env), "no tenant")
    refused(iep(database_url, "domains", "add", "not a domain", "--tenant", "acme", **env), "domain")
    refused(iep(database_url, "domains", "add", "shop.example", "--tenant", "acme"), "IEP_ENCRYPTION_KEY")
    refused(iep(database_url, "domains", "list", "--tenant", "acme", DNS_NAMESERVERS="nope:53"), "DNS_NAMESERVERS")
