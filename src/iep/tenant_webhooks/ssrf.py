"""The SSRF guard for tenant webhook URLs (S9): checked at registration and again before every attempt.

A tenant chooses the URL, so the URL must not reach what only IEP can reach: loopback, private networks, the
cloud metadata service, and every disguise of them (IPv4 spelled in decimal, octal or hex; IPv4-mapped,
-compatible, NAT64 and 6to4 IPv6). The host is resolved once, every address is checked, and the caller dials
the checked address (`Target.address`) — never the name again, so a DNS answer that changes between check and
connect (rebinding) cannot move the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port → every address the name resolves to
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.ip_network("::/96")
# Only the characters of an inet_aton spelling: decimal, octal (leading 0) and hex (0x) parts, 1 to 4 of them.
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class UrlRefused(ValueError):
    """The URL may not receive webhooks; the message says why (shown to the tenant)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt goes: the URL's parts, and the one address that was checked and must be dialled."""

    scheme: str
    host: str  # as the tenant wrote it, normalised: the Host header and the TLS server name
    port: int
    path: str  # path and query
    address: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == default else f"{shown}:{self.port}"

    @property
    def pinned_url(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{shown}:{self.port}{self.path}"


def parse_cidrs(value: str) -> tuple[IPNetwork, ...]:
    nets = []
    for item in filter(None, (p.strip() for p in value.split(","))):
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a CIDR such as 10.0.0.0/8") from None
    return tuple(nets)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, whatever the spelling (`2130706433`, `0177.0.0.1`, `0x7f.1`)."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlRefused(f"{host!r} is not a valid IPv6 address") from None
    if _NUMERIC_HOST.fullmatch(host):
        # Resolvers and browsers read these with inet_aton's rules, so the guard does too.
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise UrlRefused(f"{host!r} is not a valid IPv4 address") from None
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def _why_not_public(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata lives here)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not publicly routable"
    return None


def refusal(ip: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why webhooks may not go to this address, or None. `allowed` (WEBHOOK_ALLOWED_CIDRS) overrides."""
    embedded = _embedded_v4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if any(ip in net for net in allowed) or (embedded is not None and any(embedded in net for net in allowed)):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return f"{ip} is a local-use NAT64 address"
        if ip in _COMPATIBLE and int(ip) > 1:
            return f"{ip} is an IPv4-compatible IPv6 address"
        if embedded is not None:
            # Mapped, NAT64 and 6to4 forms reach the IPv4 address they carry: judge that one.
            why = _why_not_public(embedded)
            return f"{ip} carries {embedded}, which is {why}" if why else None
    why = _why_not_public(ip)
    return f"{ip} is {why}" if why else None


@dataclass(frozen=True, slots=True)
class _Parsed:
    scheme: str
    host: str
    port: int
    path: str
    literal: IPAddress | None


class Guard:
    def __init__(
        self, *, allow_http: bool, allowed: Sequence[IPNetwork] = (), resolver: Resolver = system_resolver
    ) -> None:
        self.allow_http = allow_http
        self.allowed = tuple(allowed)
        self._resolve = resolver

    def parse(self, url: str) -> _Parsed:
        """Everything that can be judged without the network."""
        if len(url) > MAX_URL_LENGTH:
            raise UrlRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
            raise UrlRefused("the URL contains whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UrlRefused(f"the URL cannot be parsed: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise UrlRefused("the URL must start with https://")
        if scheme == "http" and not self.allow_http:
            raise UrlRefused("only https:// URLs may receive webhooks (WEBHOOK_ALLOW_HTTP is off)")
        if parts.username is not None or parts.password is not None:
            raise UrlRefused("the URL may not carry a user name or password")
        raw_host = parts.hostname or ""
        if not raw_host or "%" in raw_host:
            raise UrlRefused("the URL has no usable host")
        literal = literal_address(raw_host)
        host = str(literal) if literal is not None else _hostname(raw_host)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return _Parsed(scheme, host, port or (443 if scheme == "https" else 80), path, literal)

    async def check(self, url: str) -> Target:
        """Resolve once, check every address, return the first: the caller must connect to exactly that."""
        parsed = self.parse(url)
        if parsed.literal is not None:
            addresses: list[IPAddress] = [parsed.literal]
        else:
            try:
                answers = await self._resolve(parsed.host, parsed.port)
            except (OSError, UnicodeError) as exc:
                raise UrlRefused(f"{parsed.host} cannot be resolved: {exc}") from None
            addresses = []
            for answer in answers:
                try:
                    addresses.append(ipaddress.ip_address(answer.split("%", 1)[0]))
                except ValueError:
                    raise UrlRefused(f"{parsed.host} resolved to {answer!r}, not an address") from None
            if not addresses:
                raise UrlRefused(f"{parsed.host} resolves to no address")
        for ip in addresses:
            why = refusal(ip, self.allowed)
            if why:
                raise UrlRefused(f"{parsed.host} may not receive webhooks: {why}")
        return Target(parsed.scheme, parsed.host, parsed.port, parsed.path, str(addresses[0]))


def _hostname(raw: str) -> str:
    host = raw.rstrip(".").lower()
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UrlRefused(f"{raw!r} is not a valid host name") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UrlRefused(f"{raw!r} is not a valid host name")
    return ascii_host
