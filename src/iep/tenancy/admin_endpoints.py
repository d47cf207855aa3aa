"""HTTP for the operator (S1): tenants created, read, listed, changed, suspended, activated, and a first key
issued. Reserved to `IEP_ADMIN_TOKEN`; no tenant key opens it. HTTP only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from iep.api.auth import require_operator
from iep.api.body import json_body_doc, parse_body
from iep.kit.problems import Conflict, NotFound, ValidationFailed
from iep.limits import service as limits_service
from iep.limits.policy import SETTING_NAMES as LIMIT_SETTINGS
from iep.tenancy import repository, service
from iep.tenancy.schemas import KeyCreate, KeyCreated, TenantCreate, TenantList, TenantOut, TenantUpdate

router = APIRouter(prefix="/v1/admin/tenants", tags=["admin"], dependencies=[Depends(require_operator)])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON",
        401: "Missing or wrong operator token",
        403: "A tenant key was sent: this API takes only the operator token",
        404: "No such tenant, or the admin API is off (IEP_ADMIN_TOKEN unset)",
        413: "Body too large",
        415: "Not JSON",
        409: "The slug is taken",
        422: "Invalid fields",
    }.items()
}


def _invalid(field: str, exc: service.TenancyError) -> ValidationFailed:
    return ValidationFailed([{"field": field, "pointer": f"/{field}", "code": "invalid", "message": str(exc)}])


@router.post(
    "",
    status_code=201,
    response_model=TenantOut,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(TenantCreate),
    summary="Create a tenant",
)
async def create_tenant(request: Request, response: Response) -> TenantOut:
    container = request.app.state.container
    body = await parse_body(request, TenantCreate)
    async with container.engine.begin() as conn:
        try:
            row = await service.create_tenant(
                conn, name=body.name, slug=body.slug, sender_domains=body.sender_domains, settings=body.settings
            )
        except service.TenantExists as exc:
            raise Conflict(str(exc)) from None
        except service.TenancyError as exc:
            raise _invalid("slug" if "slug" in str(exc) else "name", exc) from None
    response.headers["Location"] = f"/v1/admin/tenants/{row['slug']}"
    return TenantOut.of(row)


@router.get("", response_model=TenantList, responses=_PROBLEMS, summary="Every tenant, oldest first")
async def list_tenants(request: Request) -> TenantList:
    async with request.app.state.container.engine.connect() as conn:
        rows = await repository.list_tenants(conn)
    return TenantList(data=[TenantOut.of(r) for r in rows])


@router.get("/{slug}", response_model=TenantOut, responses=_PROBLEMS, summary="One tenant")
async def get_tenant(slug: str, request: Request) -> TenantOut:
    async with request.app.state.container.engine.connect() as conn:
        row = await repository.tenant_by_slug(conn, slug)
    if row is None:
        raise NotFound("no such tenant")
    return TenantOut.of(row)


@router.patch(
    "/{slug}",
    response_model=TenantOut,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(TenantUpdate),
    summary="Rename, and merge settings (a key set to null is removed)",
)
async def update_tenant(slug: str, request: Request) -> TenantOut:
    container = request.app.state.container
    body = await parse_body(request, TenantUpdate)
    async with container.engine.begin() as conn:
        if await repository.tenant_by_slug(conn, slug) is None:
            raise NotFound("no such tenant")
        # Limit keys go through the limits' own rules (validated, a new quota counted afresh), the rest merge.
        settings = dict(body.settings or {})
        limits = {k: settings.pop(k) for k in list(settings) if k in LIMIT_SETTINGS and settings[k] is not None}
        try:
            row = await service.update_tenant(conn, slug, name=body.name, settings=settings)
        except service.TenancyError as exc:
            raise _invalid("name", exc) from None
        if limits:
            try:
                row = await limits_service.update_limits(conn, slug, limits, container.clock.now())
            except service.TenancyError as exc:
                raise _invalid("settings", exc) from None
    return TenantOut.of(row)


async def _set_active(request: Request, slug: str, *, active: bool) -> TenantOut:
    container = request.app.state.container
    async with container.engine.begin() as conn:
        try:
            row = await service.set_active(conn, slug, active=active, now=container.clock.now())
        except service.TenancyError:
            raise NotFound("no such tenant") from None
    return TenantOut.of(row)


@router.post(
    "/{slug}/suspend",
    response_model=TenantOut,
    responses=_PROBLEMS,
    summary="Suspend: every call with its keys is refused within a second, and its mail is held, not sent",
)
async def suspend_tenant(slug: str, request: Request) -> TenantOut:
    return await _set_active(request, slug, active=False)


@router.post(
    "/{slug}/activate",
    response_model=TenantOut,
    responses=_PROBLEMS,
    summary="Activate: its keys work again and the mail held meanwhile is queued at once (`requeued`)",
)
async def activate_tenant(slug: str, request: Request) -> TenantOut:
    return await _set_active(request, slug, active=True)


@router.post(
    "/{slug}/keys",
    status_code=201,
    response_model=KeyCreated,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(KeyCreate),
    summary="Issue a key for a tenant (e.g. its first `admin` key); the secret is in this answer only",
)
async def create_tenant_key(slug: str, request: Request) -> KeyCreated:
    container = request.app.state.container
    now = container.clock.now()
    body = await parse_body(request, KeyCreate, now=now)
    async with container.engine.begin() as conn:
        tenant = await repository.tenant_by_slug(conn, slug)
        if tenant is None:
            raise NotFound("no such tenant")
        row, full = await service.issue_key(
            conn, tenant_id=tenant["id"], scopes=list(body.scopes), name=body.name, expires_at=body.expires_at
        )
    return KeyCreated.of_new(row, full, now)
