"""S10: operators sign in with Argon2id passwords; sessions live on the server; cookies are Secure, HttpOnly and
SameSite=Strict; sign-in is rate-limited; every page carries a strict CSP; every action is audited."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from fastapi.routing import APIRoute
from sqlalchemy import text

from iep.admin.app import ROUTERS
from iep.bootstrap import Container
from tests.admin.conftest import OPERATOR, ORIGIN, PASSWORD, csrf_of, make_operator, sign_in
from tests.conftest import make_tenant

IEP = str(Path(sys.executable).with_name("iep"))


async def test_every_page_needs_a_session_and_a_tenant_key_opens_none(
    container: Container, dashboard: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(container, "acme", scopes=("send", "read", "admin"))
    pages = [
        route.path.replace("{message_id}", str(uuid.UUID(int=1))).replace("{slug}", "acme")
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in route.methods and route.path not in ("/admin", "/admin/login")
    ]
    assert len(pages) >= 15
    for path in pages:
        for headers in ({}, tenant.headers):
            answer = await dashboard.get(path, headers=headers)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/admin/login"


async def test_sign_in_sets_a_strict_cookie_and_the_session_is_server_side(
    container: Container, dashboard: httpx.AsyncClient
) -> None:
    await make_operator(container)
    answer = await sign_in(dashboard)
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("iep_admin="))
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "secure" in lowered
    assert "samesite=strict" in lowered
    assert "path=/admin" in lowered
    page = await dashboard.get("/admin/messages")
    assert page.status_code == 200
    assert OPERATOR in page.text
    async with container.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token_hash FROM admin_sessions"))).scalars().all()
        hashed = (await conn.execute(text("SELECT password_hash FROM admin_operators"))).scalar_one()
    token = dashboard.cookies["iep_admin"]
    assert len(stored) == 1
    assert token not in stored
    assert hashed.startswith("$argon2id$")
    # Signing out ends the session on the server: the old cookie opens nothing.
    await dashboard.post("/admin/logout", data={"csrf": csrf_of(page.text)}, headers={"Origin": ORIGIN})
    dashboard.cookies.set("iep_admin", token, domain="iep.test", path="/admin")
    assert (await dashboard.get("/admin/messages")).status_code == 303


async def test_wrong_password_and_the_rate_limit(container: Container, dashboard: httpx.AsyncClient) -> None:
    await make_operator(container)
    for _ in range(5):
        assert (await sign_in(dashboard, password="wrong password!")).status_code == 401
    limited = await sign_in(dashboard)  # even the right password now waits
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) > 0
    async with container.engine.connect() as conn:
        failures = (
            await conn.execute(text("SELECT count(*) FROM admin_audit WHERE action = 'login_failed'"))
        ).scalar_one()
    assert failures == 5


async def test_login_form_refuses_another_origin_and_a_missing_token(
    container: Container, dashboard: httpx.AsyncClient
) -> None:
    await make_operator(container)
    form = await dashboard.get("/admin/login")
    token = csrf_of(form.text)
    body = {"csrf": token, "email": OPERATOR, "password": PASSWORD}
    evil = await dashboard.post("/admin/login", data=body, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    missing = await dashboard.post("/admin/login", data={**body, "csrf": ""}, headers={"Origin": ORIGIN})
    assert missing.status_code == 403


async def test_every_page_has_a_strict_csp(signed_in: httpx.AsyncClient) -> None:
    for path in ("/admin/messages", "/admin/tenants", "/admin/suppressions", "/admin/audit", "/admin/login"):
        answer = await signed_in.get(path)
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "<script>" not in answer.text  # no inline script at all
        assert answer.headers["x-content-type-options"] == "nosniff"
    script = await signed_in.get("/admin/static/htmx.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text


def test_admins_create_from_the_shell(database_url: str, container: Container) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    made = subprocess.run(
        [IEP, "admins", "create", "--email", "Shell@IEP.test", "--password-stdin"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert '"status": "created"' in made.stdout
    assert "shell@iep.test" in made.stdout
    short = subprocess.run(
        [IEP, "admins", "create", "--email", "x@iep.test", "--password-stdin"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert short.returncode == 1
    assert "at least 12" in short.stderr
