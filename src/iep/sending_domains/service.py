"""DKIM keys per sender domain (D-10, S5): generated here, the private half encrypted at rest (S6)."""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.delivery.context import dkim_key_context
from iep.kit.crypto import KeyRing
from iep.sending_domains import repository

_SELECTOR = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True, slots=True)
class DkimRecord:
    """What the tenant publishes: a TXT record `value` at `name`."""

    name: str
    value: str


async def create_dkim_key(
    conn: AsyncConnection, keyring: KeyRing, tenant_id: uuid.UUID, *, domain: str, selector: str
) -> DkimRecord:
    if not _SELECTOR.fullmatch(selector):
        raise ValueError("a DKIM selector is 1–63 of a-z 0-9 - (starting with a letter or digit)")
    domain = domain.lower()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sealed = keyring.encrypt(pem, context=dkim_key_context(tenant_id, domain))
    await repository.upsert_dkim_key(conn, tenant_id, domain=domain, selector=selector, private_key_encrypted=sealed)
    return DkimRecord(f"{selector}._domainkey.{domain}", "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode())
