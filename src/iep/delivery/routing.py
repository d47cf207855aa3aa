"""Choose the provider for a message: the tenant's own choice, else the configured default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iep.providers.base import Provider


class ProviderRouter:
    def __init__(self, providers: Mapping[str, Provider], default: str) -> None:
        if default not in providers:
            raise ValueError(f"DEFAULT_PROVIDER {default!r} is not one of {sorted(providers)}")
        self._providers = dict(providers)
        self._default = default

    def choose(self, message: Mapping[str, Any]) -> Provider:
        del message  # per-tenant policy and failover arrive with the circuit breaker (D-3)
        return self._providers[self._default]

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
