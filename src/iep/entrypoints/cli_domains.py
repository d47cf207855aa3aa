"""`iep domains add|list|verify|remove --tenant SLUG` (P7, S5): a tenant's sender domains from the shell."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


def _in_db(work: Callable[[AsyncConnection, uuid.UUID], Awaitable[T]], tenant_slug: str) -> T:
    """Run `work(conn, tenant_id)` in one transaction; a problem becomes a clear message and exit status 1."""
    from iep.entrypoints import cli
    from iep.kit.problems import Problem

    async def go(conn: AsyncConnection) -> T:
        return await work(conn, await cli._tenant_id(conn, tenant_slug))

    try:
        return cli._run(cli._with_db(go))
    except Problem as exc:
        errors = "; ".join(e["message"] for e in getattr(exc, "errors", []))
        raise click.ClickException(errors or exc.detail or exc.title) from None


def _context() -> tuple[Any, Any]:
    from iep.entrypoints import cli
    from iep.kit.crypto import KeyRing
    from iep.sending_domains.records import DnsPlan

    settings = cli._settings()
    keyring = KeyRing.parse(settings.iep_encryption_key) if settings.iep_encryption_key else None
    return DnsPlan.from_settings(settings), keyring


@click.group()
def domains() -> None:
    """Sender domains of a tenant: add (prints the DNS records to publish), list, verify, remove."""


@domains.command("add")
@click.argument("domain")
@click.option("--tenant", "tenant_slug", required=True)
def domains_add(domain: str, tenant_slug: str) -> None:
    """Add DOMAIN with a new DKIM key and print the DNS records to publish."""
    from iep.entrypoints.cli import _print
    from iep.kit.clock import SystemClock
    from iep.sending_domains import service

    plan, keyring = _context()
    now = SystemClock().now()
    view = _in_db(lambda c, t: service.add_domain(c, keyring, t, domain, now=now, plan=plan), tenant_slug)
    _print(view)


@domains.command("list")
@click.option("--tenant", "tenant_slug", required=True)
def domains_list(tenant_slug: str) -> None:
    """The tenant's sender domains, their records and last verification."""
    from iep.entrypoints.cli import _print
    from iep.sending_domains import service

    plan, keyring = _context()
    _print(_in_db(lambda c, t: service.list_domains(c, t, plan=plan, keyring=keyring), tenant_slug))


@domains.command("verify")
@click.argument("domain")
@click.option("--tenant", "tenant_slug", required=True)
def domains_verify(domain: str, tenant_slug: str) -> None:
    """Look DOMAIN's records up in DNS and print one result per record; exit 1 unless verified."""
    from iep.entrypoints.cli import _print, _settings
    from iep.kit.clock import SystemClock
    from iep.sending_domains import service
    from iep.sending_domains.dns import DnsClient
    from iep.sending_domains.verification import run_checks

    plan, keyring = _context()
    settings = _settings()
    dns = DnsClient(settings.dns_nameservers, settings.dns_timeout_seconds)

    async def go(conn: AsyncConnection, tenant_id: uuid.UUID) -> dict[str, Any]:
        domain_id = await service.domain_id(conn, tenant_id, domain)
        name, records = await service.records_to_check(conn, tenant_id, domain_id, plan=plan, keyring=keyring)
        checks = await run_checks(records, dns)
        return await service.save_verification(conn, tenant_id, domain_id, name, checks, SystemClock().now())

    result = _in_db(go, tenant_slug)
    _print(result)
    if not result["verified"]:
        failing = [
            f"{r['purpose']} ({r['name']}): {r['detail']}" for r in result["records"] if r["required"] and not r["ok"]
        ]
        raise click.ClickException(f"{result['domain']} is not verified:\n  " + "\n  ".join(failing))


@domains.command("remove")
@click.argument("domain")
@click.option("--tenant", "tenant_slug", required=True)
def domains_remove(domain: str, tenant_slug: str) -> None:
    """Remove DOMAIN and its DKIM key; mail from it is refused from then on."""
    from iep.entrypoints.cli import _print
    from iep.sending_domains import service

    async def go(conn: AsyncConnection, tenant_id: uuid.UUID) -> dict[str, Any]:
        await service.delete_domain(conn, tenant_id, await service.domain_id(conn, tenant_id, domain))
        return {"tenant": tenant_slug, "domain": domain, "removed": True}

    _print(_in_db(go, tenant_slug))
