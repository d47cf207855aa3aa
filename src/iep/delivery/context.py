"""What the send step needs beyond the message row: the tenant's routing policy and own provider accounts,
the sender domain's DKIM key, the message's attachments, its unsubscribe setting, and which of its recipients
are suppressed and whether the tenant is active. One read, for one message or for many (`load_many`, the batch
the send step's claims came in)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iep.delivery import repository
from iep.delivery.routing import RoutingPolicy, TenantProviderRow
from iep.kit.crypto import KeyRing
from iep.kit.driver import Executor
from iep.providers.base import DkimKey, PermanentProviderError
from iep.sending_domains.names import ascii_domain


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


def wanted(
    tenant_id: uuid.UUID, message_id: uuid.UUID, from_domain: str, recipients: Sequence[str]
) -> repository.ContextWanted:
    # Keys are stored under the A-label form; a From of `info@bücher.example` signs as xn--bcher-kva.example.
    lowered = sorted({r.lower() for r in recipients})
    return repository.ContextWanted(tenant_id, message_id, ascii_domain(from_domain), lowered)


async def load_many(conn: Executor, many: Sequence[repository.ContextWanted], now: datetime) -> list[SendingContext]:
    """The contexts of many messages in one statement, in order (suppressions as they stand at `now`)."""
    rows = await repository.sending_contexts(conn, many, now)
    contexts = []
    for w, row in zip(many, rows, strict=True):
        files = await repository.attachment_rows(conn, w.message_id) if row["files"] else []
        contexts.append(_from_row(row, files))
    return contexts


def _from_row(row: dict[str, Any], files: list[dict[str, Any]]) -> SendingContext:
    if row["active"] is None:  # a tenant row gone (deleted) counts as not active: its mail must not leave either
        return SendingContext(tenant_active=False)
    return SendingContext(
        settings=dict(row["settings"] or {}),
        own_providers={p["name"]: TenantProviderRow(p["name"], p["kind"], p["config"]) for p in row["own"] or ()},
        dkim_row=dict(row["dkim"]) if row["dkim"] else None,
        attachment_rows=files,
        suppressed=frozenset(row["suppressed"] or ()),
        tenant_active=bool(row["active"]),
    )
