"""HTTP for suppressions (SPEC F3, A10): list, add or update by hand, remove. HTTP only.

Each request is one transaction; another tenant's entries are answered exactly as missing ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from iep.api.auth import require
from iep.api.body import json_body_doc, parse_body
from iep.kit.problems import NotFound
from iep.suppressions import service
from iep.suppressions.schemas import SuppressionIn, SuppressionOut, SuppressionPage
from iep.tenancy.context import TenantContext

router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON or cursor",
        401: "Missing or invalid API key",
        403: "Scope missing or tenant suspended",
        404: "No such suppressed address for this tenant",
        413: "Body too large",
        415: "Not JSON",
        422: "Invalid fields (every error listed)",
    }.items()
}


def _out(row: dict[str, Any]) -> SuppressionOut:
    return SuppressionOut.model_validate(
        {
            "email": row["email"],
            "reason": row["reason"],
            "source": row["source"],
            "messageId": row["message_id"],
            "diagnostic": row["diagnostic"],
            "expiresAt": row["expires_at"],
            "active": row["active"],
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
        }
    )


@router.get("", response_model=SuppressionPage, responses=_PROBLEMS, summary="Suppressed addresses, newest first")
async def list_suppressions(
    request: Request,
    ctx: Annotated[TenantContext, Depends(require("read"))],
    email: Annotated[str | None, Query(max_length=254)] = None,
    reason: Annotated[Literal["manual", "hard_bounce", "complaint"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SuppressionPage:
    container = request.app.state.container
    async with container.engine.connect() as conn:
        rows, next_cursor = await service.list(
            conn,
            tenant_id=ctx.tenant_id,
            now=container.clock.now(),
            email=email,
            reason=reason,
            limit=limit,
            cursor=cursor,
        )
    return SuppressionPage(data=[_out(r) for r in rows], nextCursor=next_cursor, limit=limit)


@router.post(
    "",
    status_code=201,
    response_model=SuppressionOut,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(SuppressionIn),
    summary="Suppress an address (re-adding one updates its entry)",
)
async def add_suppression(request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]) -> SuppressionOut:
    container = request.app.state.container
    now = container.clock.now()
    body = await parse_body(request, SuppressionIn, now=now)
    async with container.engine.begin() as conn:
        row = await service.add_manual(
            conn, tenant_id=ctx.tenant_id, email=body.email, now=now, expires_at=body.expires_at
        )
    return _out({**row, "active": True})


@router.delete("/{email}", status_code=204, responses=_PROBLEMS, summary="Stop suppressing an address")
async def remove_suppression(
    email: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> Response:
    container = request.app.state.container
    async with container.engine.begin() as conn:
        removed = await service.remove(conn, tenant_id=ctx.tenant_id, email=email)
    if not removed:
        raise NotFound("no such suppressed address")
    return Response(status_code=204)
