"""Dashboard HTTP for what operators change: the DLQ, tenants and their settings, API keys, suppressions."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from iep.admin import auth, web
from iep.admin.web import Action
from iep.kit.problems import NotFound
from iep.limits import service as limits_service
from iep.limits.policy import SETTING_NAMES as LIMIT_SETTINGS
from iep.messages import operator
from iep.messages.addresses import AddressError, normalize_address
from iep.messages.admin_queries import Search
from iep.suppressions import service as suppressions
from iep.tenancy import repository as tenancy_repository
from iep.tenancy import service as tenancy
from iep.tenancy.keys import SCOPES
from iep.tenancy.schemas import _status as key_status

router = APIRouter(prefix="/admin", include_in_schema=False)
Operator = Annotated[auth.Session, Depends(web.current)]
Act = Annotated[Action, Depends(web.action)]


async def _audit(request: Request, act: Action, action: str, target: str, **detail: Any) -> None:
    container = request.app.state.container
    await auth.audit(
        container.engine,
        act.session,
        action,
        target,
        client=act.client,
        now=container.clock.now(),
        detail=detail or None,
    )


# ---- DLQ -------------------------------------------------------------------------------------------------------


@router.get("/dlq")
async def dlq(request: Request, session: Operator) -> Response:
    tenant = request.query_params.get("tenant", "").replace("\x00", "")
    cursor = request.query_params.get("cursor") or None
    rows, next_cursor = await operator.search(
        request.app.state.container.engine,
        Search(tenant_slug=tenant or None, dead_lettered=True),
        limit=50,
        cursor=cursor,
    )
    done = request.query_params.get("requeued")
    return web.page(
        request,
        "dlq.html",
        rows=rows,
        tenant=tenant,
        flash=f"Message {done} requeued." if done else None,
        next_url="/admin/dlq?" + urlencode({"tenant": tenant, "cursor": next_cursor}) if next_cursor else None,
    )


@router.post("/dlq/{message_id}/requeue")
async def dlq_requeue(message_id: str, request: Request, act: Act) -> Response:
    from iep.admin.endpoints import _message_id

    container = request.app.state.container
    mid = _message_id(message_id)
    await operator.retry(container.engine, mid, container.clock, dead_lettered_only=True)
    await _audit(request, act, "dlq_requeue", str(mid))
    return web.redirect(f"/admin/dlq?requeued={mid}")


# ---- Tenants ---------------------------------------------------------------------------------------------------


@router.get("/tenants")
async def tenants(request: Request, session: Operator) -> Response:
    async with request.app.state.container.engine.connect() as conn:
        rows = await tenancy_repository.list_tenants(conn)
    return web.page(request, "tenants.html", rows=rows, error=None, name="", slug="")


@router.post("/tenants")
async def tenant_create(request: Request, act: Act) -> Response:
    name, slug = act.get("name"), act.get("slug")
    async with request.app.state.container.engine.begin() as conn:
        try:
            row = await tenancy.create_tenant(conn, name=name, slug=slug or None)
        except tenancy.TenancyError as exc:
            error = str(exc)
            row = None
    if row is None:
        async with request.app.state.container.engine.connect() as conn:
            rows = await tenancy_repository.list_tenants(conn)
        return web.page(
            request,
            "tenants.html",
            status=422,
            rows=rows,
            flash=error,
            flash_error=True,
            error=error,
            name=name,
            slug=slug,
        )
    await _audit(request, act, "tenant_create", row["slug"])
    return web.redirect(f"/admin/tenants/{row['slug']}?done=created")


async def _tenant_page(request: Request, slug: str, *, status: int = 200, **extra: Any) -> Response:
    container = request.app.state.container
    async with container.engine.connect() as conn:
        tenant = await tenancy_repository.tenant_by_slug(conn, slug)
        if tenant is None:
            raise NotFound("no such tenant")
        keys = await tenancy_repository.list_keys(conn, tenant["id"])
    now = container.clock.now()
    for key in keys:
        key["status"] = key_status(key, now)
    others = {k: v for k, v in tenant["settings"].items() if not _is_limit(k)}
    done = request.query_params.get("done")
    extra.setdefault("flash", f"Tenant {done}." if done else None)
    extra.setdefault("secret", None)
    return web.page(
        request,
        "tenant.html",
        status=status,
        t=tenant,
        keys=keys,
        limits={name: tenant["settings"].get(name, "") for name in LIMIT_SETTINGS},
        others=json.dumps(others, indent=2, ensure_ascii=False),
        scopes=sorted(SCOPES),
        **extra,
    )


@router.get("/tenants/{slug}")
async def tenant(slug: str, request: Request, session: Operator) -> Response:
    return await _tenant_page(request, slug)


@router.post("/tenants/{slug}/settings")
async def tenant_settings(slug: str, request: Request, act: Act) -> Response:
    container = request.app.state.container
    limits: dict[str, Any] = {}
    try:
        for name in LIMIT_SETTINGS:
            raw = act.get(name)
            if raw != "":
                limits[name] = int(raw)
        others = json.loads(act.get("settings") or "{}")
        if not isinstance(others, dict):
            raise ValueError("other settings must be a JSON object")
        async with container.engine.begin() as conn:
            await tenancy.replace_settings(conn, slug, name=act.get("name") or None, settings=others, kept=_is_limit)
            if limits:
                await limits_service.update_limits(conn, slug, limits, container.clock.now())
    except (ValueError, tenancy.TenancyError) as exc:
        return await _tenant_page(request, slug, status=422, flash=f"Not saved: {exc}", flash_error=True)
    await _audit(request, act, "tenant_settings", slug, limits=limits)
    return web.redirect(f"/admin/tenants/{slug}?done=saved")


def _is_limit(key: str) -> bool:
    """Limit settings (and their bookkeeping, e.g. the quota version) change only through the limits' own rules."""
    return key in LIMIT_SETTINGS or key.startswith("limits_")


async def _set_active(request: Request, act: Action, slug: str, *, active: bool) -> Response:
    container = request.app.state.container
    async with container.engine.begin() as conn:
        try:
            row = await tenancy.set_active(conn, slug, active=active, now=container.clock.now())
        except tenancy.TenancyError:
            raise NotFound("no such tenant") from None
    await _audit(request, act, "tenant_activate" if active else "tenant_suspend", slug)
    done = f"activated ({row.get('requeued', 0)} held messages queued)" if active else "suspended"
    return web.redirect(f"/admin/tenants/{slug}?" + urlencode({"done": done}))


@router.post("/tenants/{slug}/suspend")
async def tenant_suspend(slug: str, request: Request, act: Act) -> Response:
    return await _set_active(request, act, slug, active=False)


@router.post("/tenants/{slug}/activate")
async def tenant_activate(slug: str, request: Request, act: Act) -> Response:
    return await _set_active(request, act, slug, active=True)


# ---- API keys --------------------------------------------------------------------------------------------------


@router.post("/tenants/{slug}/keys")
async def key_create(slug: str, request: Request, act: Act) -> Response:
    container = request.app.state.container
    scopes = [s for s in sorted(SCOPES) if act.form.get(f"scope_{s}")]
    try:
        async with container.engine.begin() as conn:
            row, full = await tenancy.create_key(conn, tenant_slug=slug, scopes=scopes, name=act.get("name") or None)
    except tenancy.TenancyError as exc:
        return await _tenant_page(request, slug, status=422, flash=f"No key made: {exc}", flash_error=True)
    await _audit(request, act, "key_create", f"{slug}/{row['key_prefix']}", scopes=scopes)
    # The secret is in this answer only (never stored, never redirected to): no-store, like every page.
    return await _tenant_page(request, slug, status=201, secret=full, flash="Key created: copy it now.")


@router.post("/tenants/{slug}/keys/{prefix}/rotate")
async def key_rotate(slug: str, prefix: str, request: Request, act: Act) -> Response:
    container = request.app.state.container
    try:
        grace = max(0, min(int(act.get("grace") or 3600), 30 * 24 * 3600))
        async with container.engine.begin() as conn:
            tenant_row = await tenancy.tenant(conn, slug)
            row, full, _ = await tenancy.rotate_key(
                conn, prefix=prefix, grace_seconds=grace, now=container.clock.now(), tenant_id=tenant_row["id"]
            )
    except (ValueError, tenancy.TenancyError) as exc:
        return await _tenant_page(request, slug, status=422, flash=f"Not rotated: {exc}", flash_error=True)
    await _audit(request, act, "key_rotate", f"{slug}/{prefix}", new=row["key_prefix"], grace_seconds=grace)
    return await _tenant_page(
        request, slug, secret=full, flash=f"Key {prefix} rotated; the old one works for {grace} s more."
    )


@router.post("/tenants/{slug}/keys/{prefix}/revoke")
async def key_revoke(slug: str, prefix: str, request: Request, act: Act) -> Response:
    container = request.app.state.container
    try:
        async with container.engine.begin() as conn:
            tenant_row = await tenancy.tenant(conn, slug)
            await tenancy.revoke_key(conn, prefix, tenant_id=tenant_row["id"], now=container.clock.now())
    except tenancy.TenancyError as exc:
        return await _tenant_page(request, slug, status=422, flash=f"Not revoked: {exc}", flash_error=True)
    await _audit(request, act, "key_revoke", f"{slug}/{prefix}")
    return web.redirect(f"/admin/tenants/{slug}?" + urlencode({"done": f"key {prefix} revoked"}))


# ---- Suppressions ----------------------------------------------------------------------------------------------


async def _suppressions_page(request: Request, slug: str, email: str, *, status: int = 200, **extra: Any) -> Response:
    container = request.app.state.container
    rows: list[dict[str, Any]] = []
    next_cursor = None
    async with container.engine.connect() as conn:
        tenants_list = await tenancy_repository.list_tenants(conn)
        tenant_row = await tenancy_repository.tenant_by_slug(conn, slug) if slug else None
        if tenant_row is not None:
            rows, next_cursor = await suppressions.list(
                conn,
                tenant_id=tenant_row["id"],
                now=container.clock.now(),
                email=email or None,
                limit=50,
                cursor=request.query_params.get("cursor") or None,
            )
    extra.setdefault("flash", request.query_params.get("done"))
    return web.page(
        request,
        "suppressions.html",
        status=status,
        tenants=tenants_list,
        tenant=slug,
        email=email,
        rows=rows,
        next_url="/admin/suppressions?" + urlencode({"tenant": slug, "email": email, "cursor": next_cursor})
        if next_cursor
        else None,
        **extra,
    )


@router.get("/suppressions")
async def suppressions_page(request: Request, session: Operator) -> Response:
    slug = request.query_params.get("tenant", "").replace("\x00", "")
    email = request.query_params.get("email", "").replace("\x00", "")[:254]
    return await _suppressions_page(request, slug, email)


@router.post("/suppressions")
async def suppression_add(request: Request, act: Act) -> Response:
    container = request.app.state.container
    slug = act.get("tenant")
    try:
        address = normalize_address(act.get("email"))
        async with container.engine.begin() as conn:
            tenant_row = await tenancy.tenant(conn, slug)
            await suppressions.add_manual(
                conn,
                tenant_id=tenant_row["id"],
                email=address,
                now=container.clock.now(),
                source=suppressions.Source.DASHBOARD,
            )
    except (AddressError, tenancy.TenancyError) as exc:
        return await _suppressions_page(request, slug, "", status=422, flash=f"Not added: {exc}", flash_error=True)
    await _audit(request, act, "suppression_add", f"{slug}/{address}")
    return web.redirect("/admin/suppressions?" + urlencode({"tenant": slug, "done": f"Suppressed {address}"}))


@router.post("/suppressions/remove")
async def suppression_remove(request: Request, act: Act) -> Response:
    container = request.app.state.container
    slug, email = act.get("tenant"), act.get("email")
    async with container.engine.begin() as conn:
        try:
            tenant_row = await tenancy.tenant(conn, slug)
        except tenancy.TenancyError:
            raise NotFound("no such tenant") from None
        removed = await suppressions.remove(conn, tenant_id=tenant_row["id"], email=email)
    if not removed:
        raise NotFound(f"{email} is not suppressed for {slug}")
    await _audit(request, act, "suppression_remove", f"{slug}/{email}")
    return web.redirect("/admin/suppressions?" + urlencode({"tenant": slug, "done": f"Removed {email}"}))
