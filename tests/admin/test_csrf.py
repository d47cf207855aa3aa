"""S10: every state-changing dashboard route refuses a request without the session's CSRF token, with a wrong one,
or from another origin (by Origin or by Sec-Fetch-Site), and changes nothing when it refuses."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text

from iep.admin.app import ROUTERS
from iep.bootstrap import Container
from tests.admin.conftest import ORIGIN, csrf_of
from tests.conftest import make_tenant

_PARAM = re.compile(r"\{([a-z_]+)\}")
_VALUES = {"slug": "acme", "prefix": "abcdefgh", "message_id": str(uuid.UUID(int=1))}


def _state_changing() -> list[str]:
    """Every dashboard route that is not a read (GET/HEAD)."""
    paths = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert route.path.startswith("/admin")
            if route.methods - {"GET", "HEAD"}:
                paths.append(_PARAM.sub(lambda m: _VALUES.get(m.group(1), str(uuid.UUID(int=2))), route.path))
    return sorted(paths)


async def _counts(container: Container) -> tuple[int, ...]:
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM api_keys),"
                    " (SELECT count(*) FROM suppression_list), (SELECT count(*) FROM admin_sessions),"
                    " (SELECT count(*) FROM tenants WHERE active)"
                )
            )
        ).one()
    return tuple(row)


async def test_the_list_of_routes_is_complete(container: Container) -> None:
    routes = _state_changing()
    assert "/admin/logout" in routes
    assert "/admin/tenants/acme/suspend" in routes
    assert "/admin/messages/retry" in routes
    assert len(routes) >= 14


@pytest.mark.parametrize(
    ("case", "headers", "with_token"),
    [
        ("no token", {"Origin": ORIGIN}, False),
        ("wrong token", {"Origin": ORIGIN}, None),
        ("another origin", {"Origin": "https://evil.example"}, True),
        ("opaque origin", {"Origin": "null"}, True),
        ("cross-site fetch", {"Sec-Fetch-Site": "cross-site"}, True),
        ("same-site fetch", {"Sec-Fetch-Site": "same-site"}, True),
    ],
)
async def test_every_state_change_refuses(
    container: Container, signed_in: httpx.AsyncClient, case: str, headers: dict[str, str], with_token: bool | None
) -> None:
    await make_tenant(container, "acme")
    token = csrf_of((await signed_in.get("/admin/tenants")).text)
    before = await _counts(container)
    for path in _state_changing():
        if path == "/admin/login":
            continue  # its own double-submit check: test_auth
        body = {"name": "Evil", "email": "victim@example.com", "tenant": "acme", "grace": "0"}
        if with_token:
            body["csrf"] = token
        elif with_token is None:
            body["csrf"] = token[:-2] + "xx"
        answer = await signed_in.post(path, data=body, headers=headers)
        assert answer.status_code == 403, (case, path, answer.status_code)
        assert answer.headers["content-type"] == "application/problem+json"
        if with_token is not None and not with_token:  # no token: the header form is missing too
            assert "CSRF" in answer.json()["detail"]
    assert await _counts(container) == before
    assert (await signed_in.get("/admin/messages")).status_code == 200  # still signed in


async def test_the_token_also_travels_as_a_header(container: Container, signed_in: httpx.AsyncClient) -> None:
    """htmx requests send it as X-CSRF-Token (the page's hx-headers)."""
    await make_tenant(container, "acme")
    token = csrf_of((await signed_in.get("/admin/tenants")).text)
    answer = await signed_in.post("/admin/tenants/acme/suspend", headers={"Origin": ORIGIN, "X-CSRF-Token": token})
    assert answer.status_code == 303
    assert (await _counts(container))[4] == 0
