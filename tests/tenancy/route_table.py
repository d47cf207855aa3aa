"""Every route of the app, classified once for the isolation and scope matrices (S7, S1, S2).

A route the app serves that is not in ROUTES fails both matrices until it is classified here, with its scope
or the reason it takes no tenant key. Routes are enumerated from `app.routes`, never written down twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from iep.admin.app import ROUTERS as DASHBOARD_ROUTERS

SEND_BODY = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


@dataclass(frozen=True)
class Route:
    # The scope a tenant key needs; None: no tenant key is taken (then `reason` says why).
    scope: str | None
    reason: str = ""
    # A body valid enough that, with the right scope, the route answers from its handler, not from a parser.
    body: dict[str, Any] | None = None
    operator: bool = False  # the operator's admin API (IEP_ADMIN_TOKEN)
    dashboard: bool = False  # the operator's dashboard: a session cookie (tests/admin/ covers every route)
    # Resend's own paths answer in Resend's error shape, not problem+json: their auth, scopes and tenant boundary
    # are tested with that shape in tests/resend_sdk/ (and by Resend's own SDKs), not by the generic matrices.
    resend: bool = False
    # Where the tenant boundary of a route is tested when the isolation matrix cannot build its resource.
    isolation_elsewhere: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


PUBLIC = "public by design: no tenant data"
_USERS_ISOLATION = "tests/directory/test_users_api.py::test_another_tenants_user_is_not_found"
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/openapi.json"): Route(None, PUBLIC + " (the API's description)"),
    ("GET", "/docs"): Route(None, PUBLIC + " (the docs UI)"),
    ("GET", "/docs/oauth2-redirect"): Route(None, PUBLIC + " (part of the docs UI)"),
    ("GET", "/health"): Route(None, PUBLIC + " (liveness)"),
    ("GET", "/ready"): Route(None, PUBLIC + " (readiness of every part the role uses)"),
    ("GET", "/metrics"): Route(None, "Prometheus scrape: aggregate counts, scraped from the private network"),
    ("POST", "/webhooks/{provider}"): Route(None, "provider events in: the provider's signature authenticates"),
    ("POST", "/webhooks/{provider}/{account_id}"): Route(
        None, "provider events in for a tenant's own provider account: that account's signing secret authenticates"
    ),
    # Messages (A1-A6, D-8)
    ("POST", "/v1/messages"): Route("send", body=SEND_BODY),
    ("POST", "/v1/messages/batch"): Route("send", body={"messages": [SEND_BODY]}),
    ("POST", "/v1/send"): Route("send", body={"to": "a@example.com", "from": "x@product.example", "subject": "S"}),
    ("GET", "/v1/messages"): Route("read"),
    ("GET", "/v1/messages/{message_id}"): Route("read"),
    ("POST", "/v1/messages/{message_id}/retry"): Route("send"),
    ("POST", "/v1/messages/{message_id}/cancel"): Route("send"),
    ("GET", "/v1/dlq"): Route("read"),
    ("GET", "/v1/dlq/{message_id}"): Route("read"),
    ("POST", "/v1/dlq/{message_id}/requeue"): Route("send"),
    # Templates (A10)
    ("GET", "/v1/templates"): Route("read"),
    ("POST", "/v1/templates/{name:path}/render"): Route("read", body={"templateData": {}}),
    # Suppressions (F3)
    ("GET", "/v1/suppressions"): Route("read"),
    ("POST", "/v1/suppressions"): Route("send", body={"email": "s@example.com", "reason": "manual"}),
    ("DELETE", "/v1/suppressions/{email}"): Route("send"),
    # Tenant webhooks (F4)
    ("POST", "/v1/webhooks"): Route("send", body={"url": "https://127.0.0.1/x", "events": ["message.sent"]}),
    ("GET", "/v1/webhooks"): Route("read"),
    ("GET", "/v1/webhooks/{endpoint_id}"): Route("read"),
    ("PUT", "/v1/webhooks/{endpoint_id}"): Route("send", body={"description": "d"}),
    ("DELETE", "/v1/webhooks/{endpoint_id}"): Route("send"),
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): Route("read"),
    ("POST", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay"): Route("send"),
    # Sender domains (S5)
    ("POST", "/v1/domains"): Route("admin", body={"domain": "new.example"}),
    ("GET", "/v1/domains"): Route("read"),
    ("GET", "/v1/domains/{domain_id}"): Route("read"),
    ("DELETE", "/v1/domains/{domain_id}"): Route("admin"),
    ("POST", "/v1/domains/{domain_id}/verify"): Route("admin"),
    # Usage beside the limits (S3, S4)
    ("GET", "/v1/usage"): Route("read"),
    # Keys (S2)
    ("POST", "/v1/keys"): Route("admin", body={"scopes": ["read"]}),
    ("GET", "/v1/keys"): Route("admin"),
    ("POST", "/v1/keys/{prefix}/rotate"): Route("admin", body={"graceSeconds": 0}),
    ("DELETE", "/v1/keys/{prefix}"): Route("admin"),
    # The directory (seed 004): users are created through the address registry, which the in-process matrix has not.
    ("POST", "/v1/users"): Route("send", isolation_elsewhere=_USERS_ISOLATION),
    ("GET", "/v1/users"): Route("read", isolation_elsewhere=_USERS_ISOLATION),
    ("GET", "/v1/users/{user_id}"): Route("read", isolation_elsewhere=_USERS_ISOLATION),
    ("PUT", "/v1/users/{user_id}"): Route("send", isolation_elsewhere=_USERS_ISOLATION),
    ("DELETE", "/v1/users/{user_id}"): Route("send", isolation_elsewhere=_USERS_ISOLATION),
    # The Resend-compatible facade (A11)
    ("POST", "/emails"): Route("send", resend=True),
    ("POST", "/emails/batch"): Route("send", resend=True),
    ("GET", "/emails/{email_id}"): Route("read", resend=True),
    **{
        (method, "/emails/{rest:path}"): Route(
            None, "the rest of Resend's email API: a Resend-shaped 404 (after the key check)", resend=True
        )
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
    # The operator's admin API (S1): IEP_ADMIN_TOKEN only, never a tenant key.
    ("POST", "/v1/admin/tenants"): Route(None, "operator API", body={"name": "N"}, operator=True),
    ("GET", "/v1/admin/tenants"): Route(None, "operator API", operator=True),
    ("GET", "/v1/admin/tenants/{slug}"): Route(None, "operator API", operator=True),
    ("PATCH", "/v1/admin/tenants/{slug}"): Route(None, "operator API", body={"name": "N"}, operator=True),
    ("POST", "/v1/admin/tenants/{slug}/suspend"): Route(None, "operator API", operator=True),
    ("POST", "/v1/admin/tenants/{slug}/activate"): Route(None, "operator API", operator=True),
    ("POST", "/v1/admin/tenants/{slug}/keys"): Route(None, "operator API", body={"scopes": ["send"]}, operator=True),
}
# The operator's dashboard (U1, S10): an operator's session cookie and CSRF token, never a tenant key; its own
# tests (tests/admin/) walk the same routers for sign-in and CSRF.
ROUTES.update(
    {
        (method, route.path): Route(None, "the dashboard: operator session, not a tenant key", dashboard=True)
        for router in DASHBOARD_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods - {"HEAD"}
    }
)


def served(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) for every route the app answers, HEAD aside (Starlette adds it to every GET)."""
    found = []
    for route in iter_route_contexts(app.routes):
        path = route.path
        assert path is not None
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, path))
    return found


def tenant_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [r for r in served(app) if r in ROUTES and ROUTES[r].scope is not None]


def fill(path: str, values: dict[str, str]) -> str:
    """The path with each `{param}` (or `{param:converter}`) replaced by its value."""
    for name, value in values.items():
        path = path.replace("{" + name + ":path}", value).replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


def params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
