"""HTTP for the directory (SPEC R1): create, list, read, update, soft delete. HTTP only.

Each request is one transaction. The correlation id comes from the `X-Correlation-Id` header (or is made
here), is answered in the same header, logged, and travels in the event to the registry's logs (SPEC R6).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from iep.api.auth import require
from iep.api.body import json_body_doc, parse_body
from iep.api.params import path_id
from iep.directory import service
from iep.directory.deps import DirectoryDeps
from iep.directory.events import CORRELATION_HEADER
from iep.directory.schemas import UserIn, UserOut, UserPage, UserUpdate
from iep.kit.problems import InvalidQuery, NotFound, Problem
from iep.tenancy.context import TenantContext

router = APIRouter(prefix="/v1/users", tags=["directory"])
log = structlog.get_logger("iep.directory")
_CORRELATION = re.compile(r"[A-Za-z0-9._:\-]{1,100}")

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON or cursor",
        401: "Missing or invalid API key",
        403: "Scope missing or tenant suspended",
        404: "No such user for this tenant",
        409: "An address belongs to another user",
        413: "Body too large",
        415: "Not JSON",
        422: "Invalid fields (every error listed)",
        503: "The address registry cannot be reached (nothing was written)",
    }.items()
}


def correlation_id(request: Request) -> str:
    """The caller's correlation id when it is a sane token, else a new one."""
    given = request.headers.get(CORRELATION_HEADER, "")
    return given if _CORRELATION.fullmatch(given) else uuid.uuid4().hex


@contextlib.contextmanager
def traced(cid: str) -> Iterator[None]:
    """Every line logged on the way (a failed registry lookup, say) carries the correlation id, and so does a
    problem answer."""
    try:
        with structlog.contextvars.bound_contextvars(correlation_id=cid):
            yield
    except Problem as exc:
        exc.headers.setdefault(CORRELATION_HEADER, cid)
        raise


def _deps(request: Request) -> DirectoryDeps:
    deps: DirectoryDeps = request.app.state.container.directory
    return deps


def _out(view: service.UserView) -> dict[str, Any]:
    u = view.user
    return UserOut.model_validate(
        {
            "id": u["id"],
            "name": u["name"],
            "primary": u["primary_address"],
            "secondaries": view.secondaries,
            "version": u["version"],
            "createdAt": u["created_at"],
            "updatedAt": u["updated_at"],
        }
    ).model_dump(mode="json", by_alias=True)


def _answer(body: Any, status: int, cid: str) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={CORRELATION_HEADER: cid})


def _committed(request: Request, view: service.UserView, action: str, cid: str, ctx: TenantContext) -> None:
    """After the commit: the audit intent goes to the writer's channel, and the change is logged."""
    if view.event is not None:
        _deps(request).audit.submit(uuid.UUID(view.event["eventId"]))
    log.info(
        action,
        correlation_id=cid,
        tenant_id=str(ctx.tenant_id),
        user_id=str(view.user["id"]),
        event_id=view.event["eventId"] if view.event else None,
    )


@router.post(
    "",
    status_code=201,
    response_model=UserOut,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(UserIn),
    summary="Create a user (a taken primary address is given the first free numeric suffix)",
)
async def create_user(request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]) -> JSONResponse:
    container = request.app.state.container
    cid = correlation_id(request)
    now = container.clock.now()
    body = await parse_body(request, UserIn)
    with traced(cid):
        async with container.engine.begin() as conn:
            view = await service.create_user(
                conn, tenant_id=ctx.tenant_id, body=body, checker=_deps(request).checker, correlation_id=cid, now=now
            )
    _committed(request, view, "user_created", cid, ctx)
    return _answer(_out(view), 201, cid)


@router.get("", response_model=UserPage, responses=_PROBLEMS, summary="The tenant's users, oldest first")
async def list_users(
    request: Request,
    ctx: Annotated[TenantContext, Depends(require("read"))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    container = request.app.state.container
    after = None
    if cursor is not None:
        try:
            after = uuid.UUID(cursor)
        except ValueError:
            raise InvalidQuery("the cursor is not one this API returned") from None
    async with container.engine.connect() as conn:
        views, last = await service.list_users(conn, tenant_id=ctx.tenant_id, after=after, limit=limit)
    return {"data": [_out(v) for v in views], "nextCursor": str(last) if last else None, "limit": limit}


@router.get("/{user_id}", response_model=UserOut, responses=_PROBLEMS, summary="A user with every address")
async def get_user(
    user_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]
) -> dict[str, Any]:
    container = request.app.state.container
    async with container.engine.connect() as conn:
        view = await service.get_user(conn, tenant_id=ctx.tenant_id, user_id=path_id(user_id, "user"))
    if view is None:
        raise NotFound("no such user")
    return _out(view)


@router.put(
    "/{user_id}",
    response_model=UserOut,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(UserUpdate),
    summary="Change a user's name or primary address (the old primary joins the secondaries) or add secondaries",
)
async def update_user(
    user_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> JSONResponse:
    container = request.app.state.container
    cid = correlation_id(request)
    uid = path_id(user_id, "user")
    body = await parse_body(request, UserUpdate)
    with traced(cid):
        async with container.engine.begin() as conn:
            view = await service.update_user(
                conn,
                tenant_id=ctx.tenant_id,
                user_id=uid,
                body=body,
                checker=_deps(request).checker,
                correlation_id=cid,
                now=container.clock.now(),
            )
    if view is None:
        raise NotFound("no such user")
    _committed(request, view, "user_updated", cid, ctx)
    return _answer(_out(view), 200, cid)


@router.delete("/{user_id}", status_code=204, responses=_PROBLEMS, summary="Delete a user (the registry is told)")
async def delete_user(
    user_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> Response:
    container = request.app.state.container
    cid = correlation_id(request)
    uid = path_id(user_id, "user")
    with traced(cid):
        async with container.engine.begin() as conn:
            event = await service.delete_user(
                conn, tenant_id=ctx.tenant_id, user_id=uid, correlation_id=cid, now=container.clock.now()
            )
    if event is None:
        raise NotFound("no such user")
    _deps(request).audit.submit(uuid.UUID(event["eventId"]))
    log.info(
        "user_deleted", correlation_id=cid, tenant_id=str(ctx.tenant_id), user_id=str(uid), event_id=event["eventId"]
    )
    return Response(status_code=204, headers={CORRELATION_HEADER: cid})
