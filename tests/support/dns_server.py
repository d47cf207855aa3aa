"""A real DNS server on loopback for verification tests: dnslib over UDP and TCP on one port, serving a zone
the test writes; and a name server that never answers, for timeouts.

Answers over UDP larger than 512 bytes come back truncated (TC=1), as from a server without EDNS, so the
resolver must ask again over TCP.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import CNAME, QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

UDP_LIMIT = 512


class _Handler(DNSHandler):  # type: ignore[misc]
    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        packed: bytes = self.server.resolver.resolve(request, self).pack()
        if self.protocol == "udp" and len(packed) > UDP_LIMIT:
            # TC=1 with the question and no records, as a server without EDNS answers (dnslib's own
            # truncation drops the question, which resolvers rightly ignore).
            cut = request.reply()
            cut.header.tc = 1
            packed = cut.pack()
        return packed


class Zone(BaseResolver):  # type: ignore[misc]
    """Names → records. An authoritative server adds the CNAME chain it can follow within its own data;
    `follow_cnames=False` answers one hop at a time, as when the chain crosses into another server's zone."""

    def __init__(self, *, follow_cnames: bool = True) -> None:
        self.follow_cnames = follow_cnames
        self._records: dict[str, list[tuple[str, Any]]] = {}
        self._lock = threading.Lock()
        self.queries: list[tuple[str, str, str]] = []  # (name, type, udp|tcp)

    def txt(self, name: str, *strings: str) -> Zone:
        """One TXT record; a string longer than 255 bytes is split into several, as zone tools do."""
        chunks = [s[i : i + 255] for s in strings for i in range(0, max(len(s), 1), 255)]
        return self._add(name, "TXT", TXT([c.encode() for c in chunks]))

    def cname(self, name: str, target: str) -> Zone:
        return self._add(name, "CNAME", CNAME(target + "."))

    def drop(self, name: str) -> Zone:
        with self._lock:
            self._records.pop(name.lower(), None)
        return self

    def _add(self, name: str, rtype: str, rdata: Any) -> Zone:
        with self._lock:
            self._records.setdefault(name.lower(), []).append((rtype, rdata))
        return self

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append((qname, qtype, handler.protocol))
            records = {k: list(v) for k, v in self._records.items()}
        name, seen = qname, set()
        while True:
            here = records.get(name)
            if here is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            matching = [rd for t, rd in here if t == qtype]
            for rd in matching:
                reply.add_answer(RR(name + ".", getattr(QTYPE, qtype), rdata=rd, ttl=60))
            aliases = [rd for t, rd in here if t == "CNAME"]
            if matching or not aliases or qtype == "CNAME" or name in seen:
                return reply
            seen.add(name)
            reply.add_answer(RR(name + ".", QTYPE.CNAME, rdata=aliases[0], ttl=60))
            if not self.follow_cnames:
                return reply
            name = str(aliases[0].label).rstrip(".").lower()


_QUIET = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False, logf=lambda _: None)


@contextmanager
def dns_server(zone: Zone) -> Iterator[str]:
    """Serve `zone` on 127.0.0.1 over UDP and TCP; yields `127.0.0.1:<port>` for DNS_NAMESERVERS."""
    for _ in range(20):
        udp = DNSServer(zone, address="127.0.0.1", port=0, logger=_QUIET, handler=_Handler)
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(zone, address="127.0.0.1", port=port, tcp=True, logger=_QUIET, handler=_Handler)
        except OSError:  # the TCP side of this port is taken: try another
            udp.server.server_close()
            continue
        break
    else:
        raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")
    udp.start_thread()
    tcp.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        for server in (udp, tcp):
            server.stop()
            server.server.server_close()


@contextmanager
def silent_nameserver() -> Iterator[str]:
    """A name server that takes queries (UDP and TCP) and never answers one."""
    udp, tcp, port = _pair()
    try:
        tcp.listen(16)  # connections queue in the backlog and are never accepted
        yield f"127.0.0.1:{port}"
    finally:
        udp.close()
        tcp.close()


def _pair() -> tuple[socket.socket, socket.socket, int]:
    """A UDP and a TCP socket on the same free port (another process may hold the TCP one: try another)."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp, port
    raise OSError("no port free for both UDP and TCP on 127.0.0.1")
