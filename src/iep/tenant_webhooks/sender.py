"""One webhook attempt over HTTP, under the SSRF guard (S9).

The URL is checked and resolved right before the attempt, and the connection goes to the checked address: the
request URL names that address, the `Host` header and the TLS server name (SNI, and the certificate check)
name the tenant's host, and the network backend refuses to dial anything else. Redirects are never followed
(a 3xx is a failed attempt), the answer is read up to 64 KB, and connect and total time are bounded.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpcore

from iep.tenant_webhooks.ssrf import Guard, Target, UrlRefused

RESPONSE_LIMIT = 64 * 1024
LOGGED_BYTES = 1024
USER_AGENT = b"IEP-Webhooks/1.0"
_MAX_POOLS = 128
_any_io = httpcore.AnyIOBackend()


async def dial(host: str, port: int, timeout: float | None) -> httpcore.AsyncNetworkStream:  # noqa: ASYNC109 - passed to anyio
    """The one place a webhook connection is opened (tests patch it to record every connect)."""
    return await _any_io.connect_tcp(host, port, timeout=timeout)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Dials only the address the guard checked, whatever the request names."""

    def __init__(self, address: str) -> None:
        self._address = address

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.strip("[]") != self._address:
            raise httpcore.ConnectError(f"refusing to dial {host}: the checked address is {self._address}")
        return await dial(self._address, port, timeout)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    success: bool
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None


class WebhookSender:
    def __init__(self, guard: Guard, *, connect_timeout: float, total_timeout: float) -> None:
        self.guard = guard
        self._connect = connect_timeout
        self._total = total_timeout
        # One pool per host *and* address: a TLS connection verified for one name is never reused for another.
        self._pools: OrderedDict[tuple[str, str, str, int], httpcore.AsyncConnectionPool] = OrderedDict()

    async def _pool(self, target: Target) -> httpcore.AsyncConnectionPool:
        key = (target.scheme, target.host, target.address, target.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = httpcore.AsyncConnectionPool(
                network_backend=PinnedBackend(target.address),
                max_connections=32,
                keepalive_expiry=30.0,
                retries=0,
            )
            self._pools[key] = pool
            if len(self._pools) > _MAX_POOLS:
                _, oldest = self._pools.popitem(last=False)
                await oldest.aclose()
        self._pools.move_to_end(key)
        return pool

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            target = await self.guard.check(url)
        except UrlRefused as exc:
            return AttemptResult(False, None, elapsed(), None, f"refused: {exc}")
        request_headers = [
            (b"Host", target.host_header.encode("ascii")),
            (b"Content-Type", b"application/json"),
            (b"Content-Length", str(len(body)).encode("ascii")),
            (b"User-Agent", USER_AGENT),
            *((name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()),
        ]
        extensions: dict[str, Any] = {
            "timeout": {"connect": self._connect, "read": self._total, "write": self._total, "pool": self._total}
        }
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        answer = bytearray()
        try:
            pool = await self._pool(target)
            async with asyncio.timeout(self._total):
                async with pool.stream(
                    "POST", target.pinned_url, headers=request_headers, content=body, extensions=extensions
                ) as response:
                    status = response.status
                    async for chunk in response.aiter_stream():
                        answer += chunk
                        if len(answer) >= RESPONSE_LIMIT:
                            break  # enough to log; the rest is not read (the connection is dropped)
        except TimeoutError:
            return AttemptResult(False, None, elapsed(), None, f"no answer within {self._total:g} s")
        except httpcore.TimeoutException as exc:
            return AttemptResult(False, None, elapsed(), None, f"timed out: {type(exc).__name__}")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            return AttemptResult(False, None, elapsed(), None, f"{type(exc).__name__}: {exc}"[:500])
        except (OSError, ssl.SSLError) as exc:
            return AttemptResult(False, None, elapsed(), None, f"{type(exc).__name__}: {exc}"[:500])
        logged = bytes(answer[:LOGGED_BYTES]).decode("utf-8", errors="replace")
        if 200 <= status < 300:
            return AttemptResult(True, status, elapsed(), logged, None)
        if 300 <= status < 400:
            return AttemptResult(False, status, elapsed(), logged, f"redirect ({status}) not followed")
        return AttemptResult(False, status, elapsed(), logged, f"HTTP {status}")

    async def close(self) -> None:
        while self._pools:
            _, pool = self._pools.popitem()
            await pool.aclose()
