"""The auth dependency: one place turns request headers into a TenantContext with a required scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from iep.tenancy import keys
from iep.tenancy.context import TenantContext


def presented_key(request: Request) -> keys.PresentedKey | None:
    headers = request.headers
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return keys.parse(auth[7:])
    return keys.parse(headers.get("x-api-key"), headers.get("x-api-secret"))


def require(scope: str) -> Callable[[Request], Awaitable[TenantContext]]:
    async def dependency(request: Request) -> TenantContext:
        authenticator = request.app.state.container.authenticator
        client = request.client.host if request.client else None
        ctx: TenantContext = await authenticator.authenticate(presented_key(request), scope, client)
        request.state.tenant = ctx
        return ctx

    return dependency
