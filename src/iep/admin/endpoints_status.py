"""Dashboard HTTP for what operators watch: delivery charts, queue and provider health, tenant webhooks and their
deliveries (with replay), the dev inbox and the audit log."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from iep.admin import auth, charts, web
from iep.admin.web import Action
from iep.kit.problems import NotFound
from iep.messages import operator
from iep.outbox import repository as outbox_repository
from iep.providers.devinbox import list_inbox
from iep.tenancy import repository as tenancy_repository
from iep.tenant_webhooks import service as webhooks

router = APIRouter(prefix="/admin", include_in_schema=False)
Operator = Annotated[auth.Session, Depends(web.current)]
Act = Annotated[Action, Depends(web.action)]
CHART_HOURS = 24


@router.get("/analytics")
async def analytics(request: Request, session: Operator) -> Response:
    container = request.app.state.container
    data = await operator.delivery_series(container.engine, container.clock.now(), CHART_HOURS)
    outcomes = charts.line_chart("Messages per hour", "messages", data["hours"], data["counts"])
    latency = charts.line_chart(
        "Accept to sent (seconds)", "seconds", data["hours"], {"p50": data["p50"], "p95": data["p95"]}, peak=True
    )
    return web.page(request, "analytics.html", charts=[outcomes, latency], hours=CHART_HOURS)


async def _health(request: Request) -> dict[str, Any]:
    container = request.app.state.container
    queues: list[dict[str, Any]] = []
    for name in ("mail.send", "mail.webhook"):
        queue = container.queue(name)
        try:
            depth = await queue.depth()
            queues.append({"name": name, "up": True, "depth": depth})
        except Exception as exc:  # a broker that does not answer is what this page is for
            queues.append({"name": name, "up": False, "error": type(exc).__name__})
    async with container.engine.connect() as conn:
        lag, pending = await outbox_repository.lag(conn, container.clock.now())
    breaker = container.router.breaker
    providers = [
        {"name": name, "state": (await breaker.state(name)).value if breaker else "closed"}
        for name in sorted(container.providers)
    ]
    return {
        "queues": queues,
        "outbox": {"lag": lag, "pending": pending},
        "providers": providers,
        "shared_breaker": container.redis is not None,
        "backend": container.settings.queue_backend.value,
    }


@router.get("/health")
async def health(request: Request, session: Operator) -> Response:
    return web.page(request, "health.html", **await _health(request))


@router.get("/health/panel")
async def health_panel(request: Request, session: Operator) -> Response:
    """The same figures as a fragment, which the page swaps in every few seconds (htmx)."""
    return web.page(request, "_health_panel.html", **await _health(request))


@router.get("/webhooks")
async def webhooks_page(request: Request, session: Operator) -> Response:
    container = request.app.state.container
    slug = request.query_params.get("tenant", "").replace("\x00", "")
    endpoints: list[dict[str, Any]] = []
    async with container.engine.connect() as conn:
        tenants_list = await tenancy_repository.list_tenants(conn)
        tenant_row = await tenancy_repository.tenant_by_slug(conn, slug) if slug else None
        if tenant_row is not None:
            for endpoint in await webhooks.list_endpoints(conn, tenant_row["id"]):
                rows, _ = await webhooks.list_deliveries(conn, tenant_row["id"], endpoint["id"], limit=20, cursor=None)
                endpoints.append({**endpoint, "deliveries": rows})
    done = request.query_params.get("done")
    return web.page(request, "webhooks.html", tenants=tenants_list, tenant=slug, endpoints=endpoints, flash=done)


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay")
async def webhook_replay(endpoint_id: str, delivery_id: str, request: Request, act: Act) -> Response:
    container = request.app.state.container
    slug = act.get("tenant")
    try:
        eid, did = uuid.UUID(endpoint_id), uuid.UUID(delivery_id)
    except ValueError:
        raise NotFound("no such delivery") from None
    async with container.engine.begin() as conn:
        tenant_row = await tenancy_repository.tenant_by_slug(conn, slug)
        if tenant_row is None:
            raise NotFound("no such tenant")
        await webhooks.replay(conn, tenant_row["id"], eid, did, container.clock.now())
    await auth.audit(
        container.engine,
        act.session,
        "webhook_replay",
        f"{slug}/{eid}/{did}",
        client=act.client,
        now=container.clock.now(),
    )
    return web.redirect("/admin/webhooks?" + urlencode({"tenant": slug, "done": "Replay queued."}))


@router.get("/inbox")
async def inbox(request: Request, session: Operator) -> Response:
    settings = request.app.state.container.settings
    if settings.service_role.value != "dev":
        raise NotFound("the dev inbox exists in role dev only")
    return web.page(request, "inbox.html", mails=list_inbox(settings.state_dir / "inbox", limit=100))


@router.get("/audit")
async def audit_log(request: Request, session: Operator) -> Response:
    rows = await auth.recent_audit(request.app.state.container.engine, 200)
    return web.page(request, "audit.html", rows=rows)
