"""The auth dependency: one place turns request headers into a TenantContext with a required scope."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request

from iep.kit.problems import NotFound, OperatorOnly, Unauthenticated
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


async def require_operator(request: Request) -> None:
    """The admin API's gate: `Authorization: Bearer <IEP_ADMIN_TOKEN>`. Unset token: the API does not exist."""
    configured = request.app.state.container.settings.iep_admin_token
    if configured is None:
        raise NotFound("the admin API is off: set IEP_ADMIN_TOKEN to turn it on")
    auth = request.headers.get("authorization", "")
    presented = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not presented:
        if keys.parse(request.headers.get("x-api-key")) is not None:
            raise OperatorOnly()
        raise Unauthenticated("send the operator token as `Authorization: Bearer …`", headers=_CHALLENGE)
    if keys.parse(presented) is not None:
        raise OperatorOnly()
    # Digests first, so the comparison takes as long whatever the presented length (no length oracle).
    expected = hashlib.sha256(configured.get_secret_value().strip().encode()).digest()
    if not hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), expected):
        raise Unauthenticated("the operator token is wrong", headers=_CHALLENGE)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="iep-admin"'}
