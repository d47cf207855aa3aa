"""DNS lookups for domain verification (S5): dnspython's async resolver, bounded in time, CNAMEs followed.

Every lookup ends within DNS_TIMEOUT_SECONDS however many CNAME hops it takes, and a loop or an overlong
chain is reported as such instead of being followed forever. Failures are data, not exceptions: a verification
shows the tenant which name answered NXDOMAIN, which timed out and which had no record of the type.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.name
    import dns.resolver

from iep.sending_domains.nameservers import parse_nameservers

NXDOMAIN = "NXDOMAIN"
TIMEOUT = "timeout"
NO_ANSWER = "no answer"
CNAME_LOOP = "CNAME loop"
SERVFAIL = "SERVFAIL"
NO_RESOLVER = "no resolver configured (set DNS_NAMESERVERS)"
# More hops than any sane delegation (a DKIM key CNAMEd to a provider is one or two).
MAX_HOPS = 8


@dataclass(frozen=True, slots=True)
class Lookup:
    """What DNS said about `name`: the record values, the CNAME targets on the way, or an error."""

    name: str
    values: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    error: str | None = None


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


class DnsClient:
    def __init__(self, nameservers: str = "", timeout: float = 5.0) -> None:
        self._servers = parse_nameservers(nameservers)
        self._timeout = timeout
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _make_resolver(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            # dnspython is loaded by the first lookup, not by every role that imports the domain routes.
            import dns.asyncresolver
            import dns.nameserver
            import dns.rdtypes.ANY.CNAME
            import dns.rdtypes.ANY.TXT

            resolver = dns.asyncresolver.Resolver(configure=not self._servers)
            if self._servers:
                resolver.nameservers = [dns.nameserver.Do53Nameserver(a, p) for a, p in self._servers]
            resolver.cache = None  # a tenant who just fixed a record wants the fresh answer
            resolver.timeout = self._timeout
            resolver.lifetime = self._timeout
            self._resolver = resolver
        return self._resolver

    async def txt(self, name: str) -> Lookup:
        """TXT records at `name` (each record's strings joined, as SPF, DKIM and DMARC read them)."""
        return await self._follow(name, "TXT")

    async def cname_chain(self, name: str, *, until: str) -> Lookup:
        """The CNAME targets from `name` on, stopping at `until`, at a name without a CNAME, or at a loop."""
        return await self._follow(name, "CNAME", until=until)

    async def _follow(self, name: str, rdtype: str, *, until: str | None = None) -> Lookup:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        chain: list[str] = []
        seen = {name}
        qname = name
        for _ in range(MAX_HOPS):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return Lookup(name, chain=tuple(chain), error=TIMEOUT)
            answer, error = await self._resolve(qname, rdtype, remaining)
            if answer is None:
                if rdtype == "CNAME" and chain and error == NXDOMAIN:
                    return Lookup(name, chain=tuple(chain))  # the walk ends at a name that does not exist
                # For a record lookup, NXDOMAIN behind a CNAME (a dangling alias) is the thing to fix.
                return Lookup(name, chain=tuple(chain), error=error)
            hops = [_text(rd.target) for c in answer.chaining_result.cnames for rd in c]
            if rdtype == "CNAME" and answer.rrset is not None:
                hops.append(_text(answer.rrset[0].target))
            for hop in hops:
                chain.append(hop)
                if hop == until:
                    return Lookup(name, chain=tuple(chain))
                if hop in seen:
                    return Lookup(name, chain=tuple(chain), error=CNAME_LOOP)
                seen.add(hop)
            if rdtype != "CNAME" and answer.rrset is not None:
                values = tuple(b"".join(rd.strings).decode("utf-8", "replace") for rd in answer.rrset)
                return Lookup(name, values=values, chain=tuple(chain))
            if not hops:
                # The name exists but has no record of this type (for a CNAME walk: the chain ends here).
                return Lookup(name, chain=tuple(chain), error=None if chain else NO_ANSWER)
            qname = hops[-1]
        return Lookup(name, chain=tuple(chain), error=CNAME_LOOP)

    async def _resolve(self, qname: str, rdtype: str, lifetime: float) -> tuple[dns.resolver.Answer | None, str]:
        import dns.exception
        import dns.message
        import dns.resolver

        try:
            resolver = self._make_resolver()
        except dns.resolver.NoResolverConfiguration:
            return None, NO_RESOLVER
        try:
            answer = await resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=False, lifetime=lifetime)
        except dns.resolver.NXDOMAIN:
            return None, NXDOMAIN
        except dns.exception.Timeout:
            return None, TIMEOUT
        except dns.message.ChainTooLong:
            return None, CNAME_LOOP
        except dns.resolver.NoNameservers as exc:
            # dnspython files an answer whose CNAMEs go round in circles under "the server failed".
            errors = exc.kwargs.get("errors") or []
            if any(isinstance(e[3], dns.message.ChainTooLong) for e in errors if len(e) > 3):
                return None, CNAME_LOOP
            return None, SERVFAIL
        except dns.exception.DNSException as exc:
            return None, type(exc).__name__
        return answer, ""
