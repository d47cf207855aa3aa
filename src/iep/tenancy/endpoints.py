"""HTTP for a tenant's own API keys (S2, SPEC §3), scope `admin`: create, list, rotate, revoke. HTTP only.

Each request is one transaction; another tenant's prefix is answered exactly as a missing one (S7).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ValidationError

from iep.api.auth import require
from iep.api.body import read_json
from iep.kit.problems import Conflict, Forbidden, NotFound, ValidationFailed
from iep.messages.validation import problem_errors
from iep.tenancy import repository, service
from iep.tenancy.context import TenantContext
from iep.tenancy.schemas import KeyCreate, KeyCreated, KeyList, KeyOut, KeyRotate, KeyRotated

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Body = TypeVar("Body", bound=BaseModel)
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


def _doc(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True)
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


async def parse_body(request: Request, model: type[Body], *, optional: bool = False, **context: Any) -> Body:
    """The body as `model`, every field error in one 422; `optional`: no body at all means `{}`."""
    if optional and not (await request.body()).strip():
        payload: Any = {}
    else:
        payload = await read_json(request, MAX_BODY)
    if not isinstance(payload, dict):
        raise ValidationFailed([{"field": "", "pointer": "", "code": "type", "message": "must be a JSON object"}])
    try:
        return model.model_validate(payload, context=context)
    except ValidationError as exc:
        raise ValidationFailed(problem_errors(exc)) from None


def _prefix(raw: str) -> str:
    if not _PREFIX.match(raw):
        raise NotFound("no such key")  # malformed answers like missing
    return raw


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    responses=_PROBLEMS,
    openapi_extra=_doc(KeyCreate),
    summary="Create a key; its secret is in this answer only",
)
async def create_key(
    request: Request, response: Response, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> KeyCreated:
    container = request.app.state.container
    now = container.clock.now()
    body = await parse_body(request, KeyCreate, now=now)
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
    openapi_extra=_doc(KeyRotate, required=False),
    summary="A new key with the same scopes; the old one works until the grace period ends",
)
async def rotate_key(
    prefix: str, request: Request, response: Response, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> KeyRotated:
    container = request.app.state.container
    body = await parse_body(request, KeyRotate, optional=True)
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
