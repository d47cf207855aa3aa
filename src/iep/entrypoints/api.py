"""The HTTP API (role `api`): routes, problem answers, health and readiness."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

import iep
from iep.admin.app import install as install_dashboard
from iep.api import problems
from iep.bootstrap import Container
from iep.config import Role
from iep.directory.endpoints import router as directory_router
from iep.limits.endpoints import router as usage_router
from iep.messages.endpoints import router as messages_router
from iep.observability.metrics import ScrapeMetrics
from iep.observability.readiness import Readiness
from iep.provider_events.endpoints import ProviderEventsDeps
from iep.provider_events.endpoints import router as provider_events_router
from iep.queue.port import SEND_QUEUE, WEBHOOK_QUEUE
from iep.resend_compat.endpoints import router as resend_router
from iep.sending_domains.endpoints import router as domains_router
from iep.suppressions.endpoints import router as suppressions_router
from iep.templates.endpoints import router as templates_router
from iep.tenancy.admin_endpoints import router as admin_tenants_router
from iep.tenancy.endpoints import router as keys_router
from iep.tenant_webhooks.endpoints import router as webhooks_router

_UNTRACED = frozenset({"/metrics", "/health", "/ready"})


def create_app(container: Container, role: Role = Role.API) -> FastAPI:
    app = FastAPI(
        title="IEP — Internal Email Platform",
        version=iep.__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        # Operation ids are the handlers' names (`send_message`, `get_email`): what generated clients call them.
        generate_unique_id_function=lambda route: route.name,
        # FastAPI's own span per request (joined to the caller's `traceparent`) is where a message's trace
        # starts (O1). No spans for its dependencies, no request metrics (ours are on /metrics), no exception logs
        # (they would carry request bodies), and nothing for scrapes and probes.
        telemetry={
            "operation_spans": False,
            "metrics": False,
            "logs": False,
            "exclude": lambda scope: scope.get("path") in _UNTRACED,
        },
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
    # Resend's own paths and error shape, so its SDKs work with only the base URL and key changed (A11).
    app.include_router(resend_router)
    # The operator's dashboard (U1, S10): /admin, signed-in operators only, outside the OpenAPI document.
    install_dashboard(app)
    app.include_router(directory_router)
    _ = container.directory  # its metrics are on /metrics from the first scrape, not from the first user

    metrics = ScrapeMetrics(container.metrics_registry)
    # Both queues' handles connect lazily, on the first scrape.
    queues = [(SEND_QUEUE, container.queue()), (WEBHOOK_QUEUE, container.queue(WEBHOOK_QUEUE))]
    readiness = Readiness(container, role)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        body = await metrics.render(container.engine, container.clock, queues)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Readiness: every part this role uses answers")
    async def ready() -> JSONResponse:
        return await readiness.response()

    return app
