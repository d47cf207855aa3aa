"""Sender domains of a tenant (S5, A10): add one with a fresh DKIM key pair, show the DNS records to publish,
verify them against DNS, remove it. The DKIM private half is encrypted at rest (S6)."""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from iep.delivery.context import dkim_key_context
from iep.kit.crypto import CryptoError, KeyRing
from iep.kit.problems import NotFound, ValidationFailed
from iep.sending_domains import repository
from iep.sending_domains.dns import DnsClient
from iep.sending_domains.names import DomainError, normalize_domain
from iep.sending_domains.problems import DomainExists, EncryptionUnavailable
from iep.sending_domains.records import DnsPlan, Record, dkim_value, records_for
from iep.sending_domains.verification import Check, is_verified, run_checks

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

_SELECTOR = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True, slots=True)
class DkimRecord:
    """What the tenant publishes: a TXT record `value` at `name`."""

    name: str
    value: str


def _public_b64(private: rsa.RSAPrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


async def create_dkim_key(
    conn: AsyncConnection, keyring: KeyRing, tenant_id: uuid.UUID, *, domain: str, selector: str
) -> DkimRecord:
    if not _SELECTOR.fullmatch(selector):
        raise ValueError("a DKIM selector is 1–63 of a-z 0-9 - (starting with a letter or digit)")
    # cryptography's native part (~8 MB resident) is loaded by the first key made or read, not by the API's start.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    domain = domain.lower()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = _public_b64(private)
    sealed = keyring.encrypt(pem, context=dkim_key_context(tenant_id, domain))
    await repository.upsert_dkim_key(
        conn, tenant_id, domain=domain, selector=selector, private_key_encrypted=sealed, public_key=public
    )
    return DkimRecord(f"{selector}._domainkey.{domain}", dkim_value(public))


def selector_for(now: datetime) -> str:
    # Dated, so a domain removed and added again publishes its new key under a new name (no stale caches).
    return f"iep{now:%Y%m%d}"


async def add_domain(
    conn: AsyncConnection, keyring: KeyRing | None, tenant_id: uuid.UUID, raw: str, *, now: datetime, plan: DnsPlan
) -> dict[str, Any]:
    try:
        domain = normalize_domain(raw)
    except DomainError as exc:
        raise ValidationFailed(
            [{"field": "domain", "pointer": "/domain", "code": "domain", "message": f"domain {exc}"}]
        ) from None
    if keyring is None:
        raise EncryptionUnavailable("set IEP_ENCRYPTION_KEY (id:base64 of 32 bytes) to add sender domains")
    try:
        async with conn.begin_nested():
            domain_id = await repository.insert_domain(conn, tenant_id, domain)
    except IntegrityError:
        raise DomainExists(f"{domain} is already one of this tenant's sender domains", domain=domain) from None
    await create_dkim_key(conn, keyring, tenant_id, domain=domain, selector=selector_for(now))
    return await get_domain(conn, tenant_id, domain_id, plan=plan, keyring=keyring)


def _public_key(row: dict[str, Any], tenant_id: uuid.UUID, keyring: KeyRing | None) -> str | None:
    if row["public_key"] or row["private_key_encrypted"] is None or keyring is None:
        return row["public_key"]  # type: ignore[no-any-return]
    # A key made before the public half was stored: derive it from the private one.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        pem = keyring.decrypt(row["private_key_encrypted"], context=dkim_key_context(tenant_id, row["domain"]))
        private = serialization.load_pem_private_key(pem, password=None)
    except (CryptoError, ValueError):
        return None
    return _public_b64(private) if isinstance(private, rsa.RSAPrivateKey) else None


def _records(row: dict[str, Any], tenant_id: uuid.UUID, plan: DnsPlan, keyring: KeyRing | None) -> list[Record]:
    public = _public_key(row, tenant_id, keyring)
    return records_for(row["domain"], selector=row["selector"], public_key=public, plan=plan)


def _view(row: dict[str, Any], records: list[Record]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "domain": row["domain"],
        "verified": row["verified"],
        "verifiedAt": row["verified_at"],
        "checkedAt": row["checked_at"],
        "createdAt": row["created_at"],
        "records": [
            {"purpose": r.purpose.value, "type": r.type, "name": r.name, "value": r.value, "required": r.required}
            for r in records
        ],
        "lastCheck": row["check_results"],
    }


async def _row(conn: AsyncConnection, tenant_id: uuid.UUID, domain_id: uuid.UUID) -> dict[str, Any]:
    row = await repository.get_domain(conn, tenant_id, domain_id)
    if row is None:
        raise NotFound("no such sender domain")
    return row


async def get_domain(
    conn: AsyncConnection, tenant_id: uuid.UUID, domain_id: uuid.UUID, *, plan: DnsPlan, keyring: KeyRing | None
) -> dict[str, Any]:
    row = await _row(conn, tenant_id, domain_id)
    return _view(row, _records(row, tenant_id, plan, keyring))


async def list_domains(
    conn: AsyncConnection, tenant_id: uuid.UUID, *, plan: DnsPlan, keyring: KeyRing | None
) -> list[dict[str, Any]]:
    rows = await repository.list_domains(conn, tenant_id)
    return [_view(r, _records(r, tenant_id, plan, keyring)) for r in rows]


async def domain_id(conn: AsyncConnection, tenant_id: uuid.UUID, name_or_id: str) -> uuid.UUID:
    """Find a domain by its id or its name (the CLI takes either)."""
    try:
        return uuid.UUID(name_or_id)
    except ValueError:
        pass
    try:
        found = await repository.domain_id_by_name(conn, tenant_id, normalize_domain(name_or_id))
    except DomainError:
        found = None
    if found is None:
        raise NotFound(f"no sender domain {name_or_id!r} for this tenant")
    return found


async def delete_domain(conn: AsyncConnection, tenant_id: uuid.UUID, domain_id: uuid.UUID) -> None:
    if not await repository.delete_domain(conn, tenant_id, domain_id):
        raise NotFound("no such sender domain")


async def records_to_check(
    conn: AsyncConnection, tenant_id: uuid.UUID, domain_id: uuid.UUID, *, plan: DnsPlan, keyring: KeyRing | None
) -> tuple[str, list[Record]]:
    row = await _row(conn, tenant_id, domain_id)
    return row["domain"], _records(row, tenant_id, plan, keyring)


async def save_verification(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    domain_id: uuid.UUID,
    domain: str,
    checks: list[Check],
    now: datetime,
) -> dict[str, Any]:
    verified = is_verified(checks)
    results = [c.as_json() for c in checks]
    if not await repository.save_check(conn, tenant_id, domain_id, verified=verified, results=results, now=now):
        raise NotFound("no such sender domain")  # removed while DNS was being asked
    return {"id": domain_id, "domain": domain, "verified": verified, "checkedAt": now, "records": results}


async def verify_domain(
    engine: AsyncEngine,
    tenant_id: uuid.UUID,
    domain_id: uuid.UUID,
    *,
    plan: DnsPlan,
    keyring: KeyRing | None,
    dns: DnsClient,
    now: datetime,
) -> dict[str, Any]:
    """Read, ask DNS with no connection held (lookups may take seconds), then record the outcome."""
    async with engine.connect() as conn:
        domain, records = await records_to_check(conn, tenant_id, domain_id, plan=plan, keyring=keyring)
    checks = await run_checks(records, dns)
    async with engine.begin() as conn:
        return await save_verification(conn, tenant_id, domain_id, domain, checks, now)
