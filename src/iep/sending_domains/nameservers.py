"""The DNS_NAMESERVERS setting's grammar, apart from the resolver so that reading settings loads no DNS library."""

from __future__ import annotations

import ipaddress


def parse_nameservers(value: str) -> list[tuple[str, int]]:
    """`127.0.0.1:5353, [::1]:53, 10.0.0.2` → [(address, port)]; raises ValueError naming a bad entry."""
    servers = []
    for item in filter(None, (p.strip() for p in value.split(","))):
        host, port = item, "53"
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"{item!r}: write an IPv6 server as [address]:port")
                port = rest[1:]
        elif item.count(":") == 1:
            host, port = item.split(":")
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(f"{item!r}: a name server is an IP address with an optional :port") from None
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{item!r}: the port must be 1-65535")
        servers.append((address, int(port)))
    return servers
