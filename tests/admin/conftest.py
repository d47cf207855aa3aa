"""Dashboard fixtures: an operator, and a client signed in as that operator (https, so Secure cookies travel)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from iep.admin import auth
from iep.bootstrap import Container
from iep.entrypoints.api import create_app
from tests.tenant_webhooks import conftest as webhook_fixtures

OPERATOR = "ops@iep.test"
PASSWORD = "correct horse battery staple"
ORIGIN = "https://iep.test"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def make_operator(container: Container, email: str = OPERATOR, password: str = PASSWORD) -> None:
    async with container.engine.begin() as conn:
        await auth.create_operator(conn, email, password, container.clock.now())


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str = OPERATOR, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/admin/login")
    return await client.post(
        "/admin/login",
        data={"csrf": csrf_of(form.text), "email": email, "password": password},
        headers={"Origin": ORIGIN},
    )


@pytest.fixture
async def dashboard(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client: https, cookies kept, redirects not followed (tests look at them)."""
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        yield client


@pytest.fixture
async def signed_in(container: Container, dashboard: httpx.AsyncClient) -> httpx.AsyncClient:
    await make_operator(container)
    answer = await sign_in(dashboard)
    assert answer.status_code == 303, answer.text
    return dashboard


# The tenant webhooks' container (loopback receivers allowed, an encryption key) and their verifying receiver.
hooks = webhook_fixtures.hooks
receiver = webhook_fixtures.receiver
