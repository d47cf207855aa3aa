"""What the send step needs beyond the message row: the tenant's routing policy and own provider accounts,
the sender domain's DKIM key, the message's attachments, its unsubscribe setting, and which of its recipients
are suppressed and whether the tenant is active (those two riding along the tenant's row, so they add no round
trip). One read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, null, select
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.delivery.routing import RoutingPolicy, TenantProviderRow
from iep.kit.crypto import KeyRing
from iep.kit.scoping import scoped_select
from iep.messages.models import attachments
from iep.providers.base import DkimKey, PermanentProviderError
from iep.providers.models import tenant_providers
from iep.sending_domains.models import dkim_keys
from iep.sending_domains.names import ascii_domain
from iep.suppressions import repository as suppressions
from iep.tenancy.models import tenants


def dkim_key_context(tenant_id: uuid.UUID, domain: str) -> str:
    return f"tenant:{tenant_id}:dkim:{domain.lower()}"


@dataclass(frozen=True, slots=True)
class SendingContext:
    settings: dict[str, Any] = field(default_factory=dict)
    own_providers: dict[str, TenantProviderRow] = field(default_factory=dict)
    dkim_row: dict[str, Any] | None = None
    attachment_rows: list[dict[str, Any]] = field(default_factory=list)
    # The message's recipients suppressed at send time, lower-cased (SPEC F3: checked again at send).
    suppressed: frozenset[str] = frozenset()
    # False while the tenant is suspended: nothing of its mail reaches a provider (ADR 0006).
    tenant_active: bool = True

    @property
    def policy(self) -> RoutingPolicy:
        return RoutingPolicy.of(self.settings)

    def dkim_key(self, tenant_id: uuid.UUID, keyring: KeyRing | None) -> DkimKey | None:
        if self.dkim_row is None:
            return None
        if keyring is None:
            raise PermanentProviderError("the sender domain has a DKIM key but IEP_ENCRYPTION_KEY is not set")
        domain = self.dkim_row["domain"]
        pem = keyring.decrypt(self.dkim_row["private_key_encrypted"], context=dkim_key_context(tenant_id, domain))
        return DkimKey(domain, self.dkim_row["selector"], pem)

    def list_unsubscribe(self, message_id: uuid.UUID) -> str | None:
        """RFC 8058 when the tenant enabled it: `{"listUnsubscribe": {"url": "https://...{messageId}..."}}`."""
        config = self.settings.get("listUnsubscribe") or {}
        template = config.get("url") if isinstance(config, dict) else None
        return str(template).replace("{messageId}", str(message_id)) if template else None


async def load(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    from_domain: str,
    recipients: Sequence[str] = (),
    now: datetime | None = None,
) -> SendingContext:
    """One round trip: the tenant's row with its providers, DKIM key and suppressed recipients as subqueries
    (a second only for a message that has attachments)."""
    lowered = sorted({r.lower() for r in recipients})
    suppressed_col = suppressions.suppressed_subquery(tenant_id, lowered, now) if lowered and now else null()
    own_col = scoped_select(
        tenant_providers,
        tenant_id,
        func.jsonb_agg(
            aggregate_order_by(
                func.jsonb_build_object(
                    "name", tenant_providers.c.name,
                    "kind", tenant_providers.c.kind,
                    "config", tenant_providers.c.config_encrypted,
                ),
                tenant_providers.c.name,
            ),
            type_=JSONB,
        ),
    ).scalar_subquery()  # fmt: skip
    # Keys are stored under the A-label form; a From of `info@bücher.example` signs as xn--bcher-kva.example.
    domain = ascii_domain(from_domain)
    dkim_col = (
        scoped_select(
            dkim_keys,
            tenant_id,
            func.jsonb_build_object(
                "domain", dkim_keys.c.domain,
                "selector", dkim_keys.c.selector,
                "private_key_encrypted", dkim_keys.c.private_key_encrypted,
                type_=JSONB,
            ),
        )
        .where(dkim_keys.c.domain == domain)
        .scalar_subquery()
    )  # fmt: skip
    files_col = select(func.count()).where(attachments.c.message_id == message_id).scalar_subquery()
    stmt = select(tenants.c.settings, tenants.c.active, suppressed_col, own_col, dkim_col, files_col).where(
        tenants.c.id == tenant_id
    )
    row = (await conn.execute(stmt)).one_or_none()
    if row is None:  # a tenant row gone (deleted) counts as not active: its mail must not leave either
        return SendingContext(tenant_active=False)
    settings, active, suppressed, own, dkim, file_count = row
    files = []
    if file_count:
        result = await conn.execute(
            select(attachments).where(attachments.c.message_id == message_id).order_by(attachments.c.created_at)
        )
        files = [dict(r._mapping) for r in result]
    return SendingContext(
        settings=dict(settings or {}),
        own_providers={p["name"]: TenantProviderRow(p["name"], p["kind"], p["config"]) for p in own or ()},
        dkim_row=dict(dkim) if dkim else None,
        attachment_rows=files,
        suppressed=frozenset(suppressed or ()),
        tenant_active=bool(active),
    )
