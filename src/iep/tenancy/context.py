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
    # Empty means the tenant has not restricted its senders yet.
    sender_domains: frozenset[str] = frozenset()
