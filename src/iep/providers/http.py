"""The base every HTTP mail API provider stands on: it owns the pipeline, each vendor fills small hooks.

build_call(email) → send it → error_for(response) when it failed → message_id(response) when it worked.
A feature a vendor cannot do raises PermanentProviderError in build_call; nothing is silently dropped.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import httpx

from iep.providers.base import (
    OutgoingEmail,
    PermanentProviderError,
    ProviderError,
    Ready,
    SendResult,
    TransientProviderError,
)
from iep.providers.mime import check_outgoing

# Statuses that say "not now" rather than "not this": throttling, timeouts and the vendor's own trouble.
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


@dataclass(frozen=True, slots=True)
class HttpCall:
    method: str
    path: str  # relative to the provider's base URL
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: list[tuple[str, str]] | None = None  # form fields, repeated names allowed
    # multipart parts: (name, (filename, bytes, content type)), or (name, (None, bytes)) for a plain field
    files: list[tuple[str, Any]] | None = None
    content: bytes | None = None


class HttpProvider(abc.ABC):
    name: str

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    # -- hooks --------------------------------------------------------------------------------------
    @abc.abstractmethod
    def build_call(self, email: OutgoingEmail) -> HttpCall:
        """The vendor's request for this email."""

    @abc.abstractmethod
    def message_id(self, response: httpx.Response) -> str:
        """The vendor's id for the accepted message, read from its success response."""

    @abc.abstractmethod
    def health_call(self) -> HttpCall:
        """A cheap authenticated read that succeeds when the API is reachable and the credentials work."""

    def error_text(self, response: httpx.Response) -> str:
        """The vendor's own words for a failure."""
        return response.text[:500]

    def is_transient(self, response: httpx.Response) -> bool:
        return response.status_code in _TRANSIENT_STATUSES or response.status_code >= 500

    def sign(self, call: HttpCall, request: httpx.Request) -> httpx.Request:
        """Vendors whose auth covers the exact bytes (AWS SigV4) sign the built request here."""
        del call
        return request

    # -- the pipeline -------------------------------------------------------------------------------
    async def send(self, email: OutgoingEmail, *, ready: Ready | None = None) -> SendResult:
        check_outgoing(email)  # the rendered subject, names and headers, before any vendor's JSON holds them
        call = self.build_call(email)
        if ready is not None:
            ready()  # httpx takes a pooled connection inside the request; its pool is wide, so that wait is short
        response = await self._request(call)
        if not response.is_success:
            raise self.error_for(response)
        try:
            provider_id = self.message_id(response)
        except (KeyError, TypeError, ValueError) as exc:
            # Accepted, but we cannot tell its id: retrying could send it twice, so this is not retried.
            raise PermanentProviderError(
                f"accepted with an unreadable response: {response.text[:200]!r}",
                code=response.status_code,
                provider=self.name,
            ) from exc
        return SendResult(self.name, provider_id, response=f"{response.status_code} {response.reason_phrase}")

    async def check_health(self) -> bool:
        try:
            response = await self._request(self.health_call())
        except ProviderError:
            return False
        return response.is_success

    async def close(self) -> None:
        await self._client.aclose()

    def error_for(self, response: httpx.Response) -> ProviderError:
        text = f"{response.status_code} {self.error_text(response)}"
        kind = TransientProviderError if self.is_transient(response) else PermanentProviderError
        return kind(text, code=response.status_code, provider=self.name)

    async def _request(self, call: HttpCall) -> httpx.Response:
        # Form fields go as a dict of lists so that a repeated name (several `to`) stays repeated; with files
        # the same fields travel in the multipart body.
        request = self._client.build_request(
            call.method,
            self._base_url + call.path,
            headers=call.headers,
            json=call.json,
            data=_pairs(call.data) if call.data else None,
            files=call.files or None,
            content=call.content,
        )
        request = self.sign(call, request)
        try:
            return await self._client.send(request)
        except httpx.HTTPError as exc:
            raise TransientProviderError(f"{type(exc).__name__}: {exc}", provider=self.name) from exc


def _pairs(data: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in data:
        grouped.setdefault(key, []).append(value)
    return grouped
