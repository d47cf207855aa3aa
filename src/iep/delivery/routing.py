"""Choose the provider for a message (D-3, seed 003 §13): the tenant's primary, else the configured default;
the fallback when the primary's circuit is open; fail fast (and retry later) when both are open.

A tenant's policy lives in its settings as `{"routing": {"primary": NAME, "fallback": NAME}}`. A NAME is one of
the tenant's own provider accounts (`tenant_providers`, credentials decrypted here) or a global provider.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from iep.config import Settings
from iep.delivery.breaker import CircuitBreaker
from iep.delivery.rate_limit import RateLimiter
from iep.kit.crypto import CryptoError, KeyRing
from iep.providers import registry
from iep.providers.base import PermanentProviderError, Provider, TransientProviderError

log = structlog.get_logger("iep.routing")


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    primary: str | None = None
    fallback: str | None = None

    @classmethod
    def of(cls, tenant_settings: Mapping[str, Any] | None) -> RoutingPolicy:
        routing = (tenant_settings or {}).get("routing") or {}
        return cls(primary=routing.get("primary"), fallback=routing.get("fallback"))


@dataclass(frozen=True, slots=True)
class TenantProviderRow:
    """A tenant's own account as stored: the configuration is still ciphertext."""

    name: str
    kind: str
    config_encrypted: str


@dataclass(frozen=True, slots=True)
class Route:
    provider: Provider
    key: str  # the breaker's and the rate limiter's name for this provider
    fallback: bool


def tenant_provider_context(tenant_id: uuid.UUID, name: str) -> str:
    """What a tenant provider's ciphertext is bound to: it opens for this tenant and name only."""
    return f"tenant:{tenant_id}:provider:{name}"


class ProviderRouter:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        default: str,
        *,
        breaker: CircuitBreaker | None = None,
        limiter: RateLimiter | None = None,
        settings: Settings | None = None,
        keyring: KeyRing | None = None,
    ) -> None:
        if default not in providers:
            raise ValueError(f"DEFAULT_PROVIDER {default!r} is not one of {sorted(providers)}")
        self._providers = dict(providers)
        self._default = default
        self.breaker = breaker
        self._limiter = limiter
        self._settings = settings
        self._keyring = keyring
        # Tenant accounts, built once per exact configuration: one SMTP pool per host + credentials.
        self._tenant_built: dict[str, Provider] = {}

    def choose(self, message: Mapping[str, Any]) -> Provider:
        """The default provider, ignoring policy and breaker (tools that just need "the" provider)."""
        del message
        return self._providers[self._default]

    async def route(
        self,
        tenant_id: uuid.UUID,
        policy: RoutingPolicy,
        own: Mapping[str, TenantProviderRow] | None = None,
    ) -> Route:
        primary = self._resolve(tenant_id, policy.primary or self._default, own or {}, fallback=False)
        if await self._allowed(primary):
            return primary
        if policy.fallback:
            fallback = self._resolve(tenant_id, policy.fallback, own or {}, fallback=True)
            if await self._allowed(fallback):
                return fallback
        raise TransientProviderError(
            f"circuit open for {primary.key}" + (f" and {policy.fallback}" if policy.fallback else ""),
            provider=primary.provider.name,
        )

    async def record(self, route: Route, *, ok: bool) -> None:
        """Count the outcome against the circuit; a breaker store that is away (Redis down) costs a count only."""
        if self.breaker is None:
            return
        try:
            await self.breaker.record(route.key, ok=ok)
        except Exception as exc:  # the send's own outcome must be recorded whatever happens to this bookkeeping
            log.warning("breaker_record_failed", provider=route.key, error=str(exc)[:200] or type(exc).__name__)

    def throttles(self, route: Route) -> bool:
        """Whether `throttle` can wait at all: most providers have no configured rate."""
        return self._limiter is not None and self._limiter.limits(route.provider.name)

    async def throttle(self, route: Route) -> None:
        """Wait for the provider's send rate (S3), shared across workers when Redis is configured."""
        if self._limiter is not None:
            await self._limiter.acquire(route.key, route.provider.name)

    async def close(self) -> None:
        for provider in [*self._providers.values(), *self._tenant_built.values()]:
            await provider.close()

    async def _allowed(self, route: Route) -> bool:
        return self.breaker is None or await self.breaker.allow(route.key)

    def _resolve(
        self, tenant_id: uuid.UUID, name: str, own: Mapping[str, TenantProviderRow], *, fallback: bool
    ) -> Route:
        row = own.get(name)
        if row is not None:
            return Route(self._tenant_provider(tenant_id, row), f"{tenant_id}/{name}", fallback)
        provider = self._providers.get(name)
        if provider is None:
            raise PermanentProviderError(
                f"the tenant's routing names provider {name!r}, which is neither its own nor configured here"
            )
        return Route(provider, name, fallback)

    def _tenant_provider(self, tenant_id: uuid.UUID, row: TenantProviderRow) -> Provider:
        cache_key = hashlib.sha256(f"{tenant_id}|{row.name}|{row.kind}|{row.config_encrypted}".encode()).hexdigest()
        built = self._tenant_built.get(cache_key)
        if built is not None:
            return built
        if self._keyring is None or self._settings is None:
            raise PermanentProviderError("tenant provider accounts need IEP_ENCRYPTION_KEY to be set")
        try:
            plain = self._keyring.decrypt(row.config_encrypted, context=tenant_provider_context(tenant_id, row.name))
            config = orjson.loads(plain)
            built = registry.build(row.kind, row.name, config, self._settings, tenant=True)
        except (CryptoError, orjson.JSONDecodeError, registry.ProviderConfigError) as exc:
            raise PermanentProviderError(f"tenant provider {row.name!r} cannot be used: {exc}") from exc
        self._tenant_built[cache_key] = built
        return built
