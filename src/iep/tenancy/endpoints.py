"""HTTP for a tenant's own API keys (S2, SPEC §3), scope `admin`: create, list, rotate, revoke. HTTP only.

Each request is one transaction; another tenant's prefix is answered exactly as a missing one (S7).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from iep.api.auth import require
from iep.api.body import json_body_doc, parse_body
from iep.kit.problems import Conflict, Forbidden, NotFound
from iep.tenancy import repository, service
from iep.tenancy.context import TenantContext
from iep.tenancy.schemas import KeyCreate, KeyCreated, KeyList, KeyOut, KeyRotate, KeyRotated

router = APIRouter(prefix="/v1/keys", tags=["keys"])
_PREFIX = re.compile(r"^[a-z0-9]{8}$")
MAX_BODY = 16 * 1024

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON",
        401: "Missing, invalid, expired or revoked API key",
        403: "The key lacks the `admin` scope, or the tenant is suspended",
        404: "No such key for this tenant",
        409: "The key is revoked or expired and cannot be rotated",
        413: "Body too large",
        415: "Not JSON",
        422: "Invalid fields (every error listed)",
    }.items()
}


def _prefix(raw: str) -> str:
    if not _PREFIX.match(raw):
        raise NotFound("no such key")  # malformed answers like missing
    return raw


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(KeyCreate),
    summary="Create a key; its secret is in this answer only",
)
async def create_key(
    request: Request, response: Response, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> KeyCreated:
    container = request.app.state.container
    now = container.clock.now()
    body = await parse_body(request, KeyCreate, max_bytes=MAX_BODY, now=now)
    async with container.engine.begin() as conn:
        try:
            row, full = await service.issue_key(
                conn,
                tenant_id=ctx.tenant_id,
                scopes=list(body.scopes),
                name=body.name,
                expires_at=body.expires_at,
                granted_by=ctx.scopes,
            )
        except service.ScopeNotHeld as exc:
            raise Forbidden(str(exc)) from None
    response.headers["Location"] = f"/v1/keys/{row['key_prefix']}"
    return KeyCreated.of_new(row, full, now)


@router.get("", response_model=KeyList, responses=_PROBLEMS, summary="The tenant's keys (never their secrets)")
async def list_keys(request: Request, ctx: Annotated[TenantContext, Depends(require("admin"))]) -> KeyList:
    container = request.app.state.container
    async with container.engine.connect() as conn:
        rows = await repository.list_keys(conn, ctx.tenant_id)
    now = container.clock.now()
    return KeyList(data=[KeyOut.of(r, now) for r in rows])


@router.post(
    "/{prefix}/rotate",
    status_code=201,
    response_model=KeyRotated,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(KeyRotate, required=False),
    summary="A new key with the same scopes; the old one works until the grace period ends",
)
async def rotate_key(
    prefix: str, request: Request, response: Response, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> KeyRotated:
    container = request.app.state.container
    body = await parse_body(request, KeyRotate, max_bytes=MAX_BODY, optional=True)
    now = container.clock.now()
    async with container.engine.begin() as conn:
        try:
            row, full, old = await service.rotate_key(
                conn, prefix=_prefix(prefix), grace_seconds=body.grace_seconds, now=now, tenant_id=ctx.tenant_id
            )
        except service.KeyNotFound:
            raise NotFound("no such key") from None
        except service.KeyNotUsable as exc:
            raise Conflict(str(exc)) from None
    response.headers["Location"] = f"/v1/keys/{row['key_prefix']}"
    created = KeyCreated.of_new(row, full, now)
    return KeyRotated.model_validate({**created.model_dump(by_alias=True), "previous": KeyOut.of(old, now)})


@router.delete(
    "/{prefix}",
    status_code=204,
    responses=_PROBLEMS,
    summary="Revoke a key: refused everywhere within a second (revoking twice is harmless)",
)
async def revoke_key(
    prefix: str, request: Request, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> Response:
    container = request.app.state.container
    async with container.engine.begin() as conn:
        try:
            await service.revoke_key(conn, _prefix(prefix), tenant_id=ctx.tenant_id, now=container.clock.now())
        except service.KeyNotFound:
            raise NotFound("no such key") from None
    return Response(status_code=204)
