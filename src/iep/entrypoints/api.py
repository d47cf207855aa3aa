"""The HTTP API (role `api`): routes, problem answers, health and readiness."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

import iep
from iep.api import problems
from iep.bootstrap import Container
from iep.directory.endpoints import router as directory_router
from iep.kit.problems import PROBLEM_BASE, PROBLEM_JSON
from iep.limits.endpoints import router as usage_router
from iep.messages.endpoints import router as messages_router
from iep.observability.metrics import ScrapeMetrics
from iep.provider_events.endpoints import ProviderEventsDeps
from iep.provider_events.endpoints import router as provider_events_router
from iep.sending_domains.endpoints import router as domains_router
from iep.suppressions.endpoints import router as suppressions_router
from iep.templates.endpoints import router as templates_router
from iep.tenancy.admin_endpoints import router as admin_tenants_router
from iep.tenancy.endpoints import router as keys_router
from iep.tenant_webhooks.endpoints import router as webhooks_router


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="IEP — Internal Email Platform",
        version=iep.__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.container = container
    problems.install(app)
    app.include_router(messages_router)
    app.include_router(templates_router)
    app.include_router(suppressions_router)
    app.include_router(domains_router)
    # Provider events in: no API key, the provider's signature is the authentication.
    app.state.provider_events = ProviderEventsDeps()
    app.include_router(provider_events_router)
    app.include_router(webhooks_router)
    app.include_router(keys_router)
    # The operator's API: IEP_ADMIN_TOKEN, never a tenant key (off when the token is unset).
    app.include_router(admin_tenants_router)
    app.include_router(usage_router)
    app.include_router(directory_router)
    _ = container.directory  # its metrics are on /metrics from the first scrape, not from the first user

    metrics = ScrapeMetrics(container.metrics_registry)
    queue = container.queue()  # connects lazily, on the first scrape

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        body = await metrics.render(container.engine, container.clock, queue)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Readiness: the database answers")
    async def ready(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with request.app.state.container.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        body = {
            "type": PROBLEM_BASE + "not-ready",
            "title": "Not ready",
            "status": 503,
            "checks": checks,
        }
        return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)

    return app
