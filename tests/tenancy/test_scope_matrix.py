"""The scope matrix (S1, S2): every route of the app by a key with each scope (send, read, admin) and no key.

A missing scope is a 403 problem+json, no key a 401, a suspended tenant a 403 `tenant-suspended` on every
tenant route, and nothing is ever a 500. Routes come from `app.routes`: a new one fails
`test_every_route_is_classified` until tests/tenancy/route_table.py says what it needs.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from iep.bootstrap import Container
from iep.entrypoints.api import create_app
from iep.tenancy import service as tenancy
from tests.conftest import make_tenant
from tests.tenancy.route_table import ROUTES, Route, fill, params, served

PROBLEM_JSON = "application/problem+json"
SCOPES = ("send", "read", "admin")
# Values for path parameters that name nothing: with the right scope, the handler answers (404, 422, 2xx).
DUMMY = {
    "message_id": str(uuid.UUID(int=1)),
    "endpoint_id": str(uuid.UUID(int=2)),
    "delivery_id": str(uuid.UUID(int=3)),
    "email": "nobody@example.com",
    "prefix": "zzzzzzzz",
    "name": "welcome",
    "slug": "acme",
    "provider": "resend",
    "account_id": str(uuid.UUID(int=4)),
    "domain_id": str(uuid.UUID(int=5)),
    "user_id": str(uuid.UUID(int=6)),
}
TENANT = sorted(k for k, r in ROUTES.items() if r.scope is not None and not r.resend)
OPERATOR = sorted(k for k, r in ROUTES.items() if r.operator)
OPEN = sorted(k for k, r in ROUTES.items() if r.scope is None and not r.operator and not r.dashboard and not r.resend)


def _id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


def _problem(resp: httpx.Response, status: int, kind: str, where: str) -> None:
    assert resp.status_code == status, (where, resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith(PROBLEM_JSON), where
    assert resp.json()["type"].endswith(f"/{kind}"), (where, resp.json())


async def _call(api: httpx.AsyncClient, key: tuple[str, str], headers: dict[str, str]) -> httpx.Response:
    method, path = key
    route: Route = ROUTES[key]
    url = fill(path, {p: DUMMY[p] for p in params(path)})
    return await api.request(method, url, json=route.body, headers=headers)


def test_every_route_is_classified(container: Container) -> None:
    app = create_app(container)
    routes = served(app)
    unclassified = sorted(set(routes) - set(ROUTES))
    assert unclassified == [], "classify these in tests/tenancy/route_table.py (scope, or why no tenant key)"
    stale = sorted(set(ROUTES) - set(routes))
    assert stale == [], "these routes are gone: remove them from tests/tenancy/route_table.py"
    assert len(routes) == len(set(routes))
    for key, route in ROUTES.items():
        assert (route.scope is None) == bool(route.reason), key  # a route without tenant auth says why
        assert route.scope in (None, *SCOPES), key


@pytest.mark.parametrize("key", TENANT, ids=[_id(k) for k in TENANT])
async def test_each_scope_on_each_tenant_route(
    api: httpx.AsyncClient, container: Container, key: tuple[str, str]
) -> None:
    required = ROUTES[key].scope
    where = _id(key)
    _problem(await _call(api, key, {}), 401, "unauthenticated", where + " without a key")
    for scope in SCOPES:
        holder = await make_tenant(container, f"t-{scope}", scopes=(scope,))
        resp = await _call(api, key, holder.headers)
        if scope == required:
            assert resp.status_code not in (401, 403, 500), (where, scope, resp.text)
            if resp.status_code >= 400:
                assert resp.headers["content-type"].startswith(PROBLEM_JSON), (where, resp.text)
        else:
            _problem(resp, 403, "forbidden", f"{where} with scope {scope}")
            assert required in resp.json()["detail"], (where, resp.json())


@pytest.mark.parametrize("key", TENANT, ids=[_id(k) for k in TENANT])
async def test_a_suspended_tenant_is_refused_on_every_tenant_route(
    api: httpx.AsyncClient, container: Container, key: tuple[str, str]
) -> None:
    suspended = await make_tenant(container, "suspended", scopes=SCOPES)
    async with container.engine.begin() as conn:
        await tenancy.set_active(conn, "suspended", active=False)
    _problem(await _call(api, key, suspended.headers), 403, "tenant-suspended", _id(key))


@pytest.mark.parametrize("key", OPERATOR, ids=[_id(k) for k in OPERATOR])
async def test_tenant_keys_of_every_scope_are_refused_by_the_operator_api(
    api: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch, key: tuple[str, str]
) -> None:
    monkeypatch.setattr(container.settings, "iep_admin_token", SecretStr("t" * 40))
    where = _id(key)
    _problem(await _call(api, key, {}), 401, "unauthenticated", where)
    everything = await make_tenant(container, "acme", scopes=SCOPES)
    for scope in SCOPES:
        holder = await make_tenant(container, f"t-{scope}", scopes=(scope,))
        _problem(await _call(api, key, holder.headers), 403, "operator-only", f"{where} with scope {scope}")
    _problem(await _call(api, key, everything.headers), 403, "operator-only", where)
    ok = await _call(api, key, {"Authorization": "Bearer " + "t" * 40})
    assert ok.status_code not in (401, 403, 500), (where, ok.text)


@pytest.mark.parametrize("key", OPEN, ids=[_id(k) for k in OPEN])
async def test_routes_without_tenant_auth_need_no_key_and_never_fail_with_500(
    api: httpx.AsyncClient, container: Container, key: tuple[str, str]
) -> None:
    holder = await make_tenant(container, "acme", scopes=SCOPES)
    answers: list[Any] = []
    for headers in ({}, holder.headers):
        resp = await _call(api, key, headers)
        answers.append(resp.status_code)
        assert resp.status_code not in (403, 500), (_id(key), resp.text)
        if key[0] == "GET":
            assert resp.status_code == 200, (_id(key), resp.text)
        elif resp.status_code >= 400:
            assert resp.headers["content-type"].startswith(PROBLEM_JSON), (_id(key), resp.text)
    assert answers[0] == answers[1]  # a tenant key neither opens nor closes anything here
