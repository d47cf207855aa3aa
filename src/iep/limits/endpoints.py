"""HTTP for tenant limits: `GET /v1/usage` (S3, S4). HTTP only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from iep.api.auth import require
from iep.limits import service
from iep.limits.schemas import Usage
from iep.tenancy.context import TenantContext

router = APIRouter(prefix="/v1", tags=["usage"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        401: "Missing or invalid API key",
        403: "Scope missing or tenant suspended",
        503: "The shared limit counters (Redis) did not answer",
    }.items()
}


@router.get(
    "/usage",
    response_model=Usage,
    responses=_PROBLEMS,
    summary="Messages accepted this minute, hour, day and month, beside the tenant's limits",
)
async def get_usage(request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]) -> Usage:
    container = request.app.state.container
    return await service.usage(container.engine, ctx, container.tenant_limiter, container.clock)
