"""Which sender domains a tenant may send from (A2, S5), decided from its cached context, without a query."""

from __future__ import annotations

from dataclasses import dataclass

from iep.sending_domains.names import ascii_domain


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class SenderPolicy:
    listed: frozenset[str]
    verified: frozenset[str]
    require_verified: bool

    def refusal(self, domain: str) -> Refusal | None:
        """None when `domain` may send; else why not and what to do, for the 422 on `from`."""
        name = ascii_domain(domain)
        if not self.listed:
            return Refusal(
                "sender_domains_missing",
                f"sender domain {domain!r} is not allowed: this tenant has no sender domains yet; add it with "
                "POST /v1/domains (or `iep domains add`), publish the DNS records it returns"
                + (", then verify it" if self.require_verified else ""),
            )
        if name not in self.listed:
            return Refusal(
                "sender_domain_not_allowed",
                f"sender domain {domain!r} is not one of this tenant's sender domains; add it with POST /v1/domains",
            )
        if self.require_verified and name not in self.verified:
            return Refusal(
                "sender_domain_unverified",
                f"sender domain {domain!r} is not verified: publish its DNS records (GET /v1/domains) and call "
                "POST /v1/domains/{id}/verify (or `iep domains verify`)",
            )
        return None


NO_SENDERS = SenderPolicy(frozenset(), frozenset(), require_verified=True)
