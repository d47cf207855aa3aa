"""Who is calling: the tenant and key behind a request, after authentication."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TenantContext:
    tenant_id: uuid.UUID
    tenant_slug: str
    key_id: uuid.UUID
    scopes: frozenset[str]
    settings: dict[str, Any] = field(default_factory=dict)
    # The tenant's sender domains (lower-case A-labels), and those of them verified in DNS (S5).
    sender_domains: frozenset[str] = frozenset()
    verified_sender_domains: frozenset[str] = frozenset()
