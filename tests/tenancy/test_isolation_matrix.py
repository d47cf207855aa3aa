"""The isolation matrix (S7): every tenant route of the app, called by another tenant holding every scope.

A route that names a resource, given the owner's id, answers exactly what it answers for an id that does not
exist (404 problem+json, bodies equal once the ids are taken out); a listing shows none of the owner's ids;
and nothing the intruder does changes what the owner sees. Routes come from `app.routes` through
tests/tenancy/route_table.py, so a new route is in this matrix as soon as it is classified.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from iep import bootstrap
from iep.bootstrap import Container
from iep.config import load_settings
from iep.rendering.renderer import Renderer
from tests.conftest import TenantKey, make_tenant
from tests.tenancy.route_table import ROUTES, SEND_BODY, fill, params

PROBLEM_JSON = "application/problem+json"
TENANT = sorted(k for k, r in ROUTES.items() if r.scope is not None and not r.resend and not r.isolation_elsewhere)
WITH_IDS = [k for k in TENANT if params(k[1])]
LISTINGS = [k for k in TENANT if not params(k[1]) and k[0] == "GET"]
CREATES = [k for k in TENANT if not params(k[1]) and k[0] != "GET"]
MISSING = {
    "message_id": str(uuid.UUID(int=0xDEAD)),
    "endpoint_id": str(uuid.UUID(int=0xBEEF)),
    "delivery_id": str(uuid.UUID(int=0xCAFE)),
    "email": "absent@example.com",
    "prefix": "zzzzzzzz",
    "name": "absent-template",
    "domain_id": str(uuid.UUID(int=0xD0)),
}
# What the owner can read: compared before and after the intruder's calls (a key's last use moves by itself).
OWNER_VIEWS = (
    "/v1/messages",
    "/v1/dlq",
    "/v1/suppressions",
    "/v1/webhooks",
    "/v1/keys",
    "/v1/templates",
    "/v1/domains",
)


@pytest.fixture(scope="module")
async def renderer(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Renderer]:
    """Templates with one that only the tenant `owner` has: `owner/private.html.jinja`."""
    source = tmp_path_factory.mktemp("templates")
    (source / "owner").mkdir()
    (source / "owner" / "private.html.jinja").write_text('---\nsubject: "Private"\n---\n<p>only for owner</p>\n')
    dist = tmp_path_factory.mktemp("templates-dist")
    shared = bootstrap.build_renderer(load_settings(templates_source_dir=source, templates_dist_dir=dist))
    yield shared
    await shared.close()


@dataclass(frozen=True)
class World:
    owner: TenantKey
    intruder: TenantKey
    ids: dict[str, str]  # the owner's resources, by path parameter

    def owned(self, path: str) -> dict[str, str]:
        values = {p: self.ids[p] for p in params(path)}
        if "message_id" in values and path.startswith("/v1/dlq"):
            values["message_id"] = self.ids["dead_message_id"]
        return values


@pytest.fixture
async def world(api: httpx.AsyncClient, container: Container) -> World:
    everything = ("send", "read", "admin")
    owner = await make_tenant(container, "owner", scopes=everything)
    intruder = await make_tenant(container, "intruder", scopes=everything)
    queued = await api.post("/v1/messages", json=SEND_BODY, headers=owner.headers)
    dead = await api.post("/v1/messages", json=SEND_BODY, headers=owner.headers)
    assert queued.status_code == dead.status_code == 202
    suppressed = await api.post(
        "/v1/suppressions", json={"email": "owned@example.com", "reason": "manual"}, headers=owner.headers
    )
    assert suppressed.status_code == 201, suppressed.text
    endpoint_id, delivery_id = uuid.uuid4(), uuid.uuid4()
    async with container.engine.begin() as conn:
        tenant_id = (await conn.execute(text("SELECT id FROM tenants WHERE slug = 'owner'"))).scalar_one()
        domain_id = (
            await conn.execute(
                text("SELECT id FROM allowed_sender_domains WHERE tenant_id = :t AND domain = 'product.example'"),
                {"t": tenant_id},
            )
        ).scalar_one()
        # Dead-lettered the way a worker leaves it: claimed, then failed (the state machine's moves).
        for change in ("status = 'processing'", "status = 'failed', dead_lettered_at = now()"):
            await conn.execute(
                text(f"UPDATE messages SET {change} WHERE id = :id"),  # noqa: S608 - constant fragments
                {"id": uuid.UUID(dead.json()["messageId"])},
            )
        await _webhook_with_a_delivery(conn, tenant_id, endpoint_id, delivery_id, uuid.UUID(queued.json()["messageId"]))
    return World(
        owner=owner,
        intruder=intruder,
        ids={
            "message_id": queued.json()["messageId"],
            "dead_message_id": dead.json()["messageId"],
            "email": "owned@example.com",
            "endpoint_id": str(endpoint_id),
            "delivery_id": str(delivery_id),
            "prefix": owner.key.split("_")[1],
            "name": "private",
            "domain_id": str(domain_id),
        },
    )


async def _webhook_with_a_delivery(
    conn: Any, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, message_id: uuid.UUID
) -> None:
    """Rows as the webhooks role leaves them after one failed attempt (no receiver is needed to read them)."""
    await conn.execute(
        text(
            "INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret_encrypted) "
            "VALUES (:id, :tenant, 'https://hooks.owner.example/in', ARRAY['message.sent'], 'sealed')"
        ),
        {"id": endpoint_id, "tenant": tenant_id},
    )
    event_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO webhook_events (id, tenant_id, endpoint_id, message_id, event_type, data, status, attempts, "
            "next_attempt_at, published_at) VALUES (:id, :tenant, :endpoint, :message, 'message.sent', '{}'::jsonb, "
            "'failed', 8, now(), now())"
        ),
        {"id": event_id, "tenant": tenant_id, "endpoint": endpoint_id, "message": message_id},
    )
    await conn.execute(
        text(
            "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, attempt, success, status_code, "
            "latency_ms, error) VALUES (:id, :tenant, :endpoint, :event, 1, false, 500, 12, 'HTTP 500')"
        ),
        {"id": delivery_id, "tenant": tenant_id, "endpoint": endpoint_id, "event": event_id},
    )


async def _owner_view(api: httpx.AsyncClient, owner: TenantKey) -> dict[str, Any]:
    views: dict[str, Any] = {}
    for path in OWNER_VIEWS:
        resp = await api.get(path, headers=owner.headers)
        assert resp.status_code == 200, (path, resp.text)
        views[path] = json.loads(resp.text.replace('"lastUsedAt"', '"_"'), object_hook=_drop_moving)
    return views


def _drop_moving(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "_"}


def _without(resp: httpx.Response, values: dict[str, str]) -> dict[str, Any]:
    """The problem body with each id replaced by its parameter's name."""
    raw = resp.text
    for name, value in values.items():
        raw = raw.replace(value, "{" + name + "}")
    body: dict[str, Any] = json.loads(raw)
    return body


def test_the_matrix_covers_every_tenant_route() -> None:
    assert sorted(WITH_IDS + LISTINGS + CREATES) == TENANT
    assert all(set(params(p)) <= set(MISSING) for _, p in WITH_IDS), "add a missing value for the new parameter"


@pytest.mark.parametrize("key", WITH_IDS, ids=[f"{m} {p}" for m, p in WITH_IDS])
async def test_another_tenants_id_answers_like_a_missing_one(
    api: httpx.AsyncClient, world: World, key: tuple[str, str]
) -> None:
    method, path = key
    body = ROUTES[key].body
    before = await _owner_view(api, world.owner)
    owned = world.owned(path)
    missing = {p: MISSING[p] for p in params(path)}
    foreign = await api.request(method, fill(path, owned), json=body, headers=world.intruder.headers)
    absent = await api.request(method, fill(path, missing), json=body, headers=world.intruder.headers)
    for resp in (foreign, absent):
        assert resp.status_code == 404, (key, resp.status_code, resp.text)
        assert resp.headers["content-type"].startswith(PROBLEM_JSON), key
    assert _without(foreign, owned) == _without(absent, missing), key
    assert await _owner_view(api, world.owner) == before, key
    # The same call by the owner reaches the resource: the 404 above was the tenant boundary, not a bad path.
    mine = await api.request(method, fill(path, owned), json=body, headers=world.owner.headers)
    assert mine.status_code != 404, (key, mine.text)


@pytest.mark.parametrize("key", LISTINGS, ids=[f"{m} {p}" for m, p in LISTINGS])
async def test_listings_show_none_of_another_tenants_resources(
    api: httpx.AsyncClient, world: World, key: tuple[str, str]
) -> None:
    resp = await api.get(key[1], headers=world.intruder.headers)
    assert resp.status_code == 200, resp.text
    for name, value in world.ids.items():
        assert value not in resp.text, (key, name)
    mine = await api.get(key[1], headers=world.owner.headers)
    # The listing works for the owner and holds their resources (templates are files; usage is counts, no ids).
    if key[1] not in ("/v1/templates", "/v1/usage"):
        assert any(value in mine.text for value in world.ids.values()), key


@pytest.mark.parametrize("key", CREATES, ids=[f"{m} {p}" for m, p in CREATES])
async def test_what_another_tenant_creates_stays_out_of_the_owners_view(
    api: httpx.AsyncClient, world: World, key: tuple[str, str]
) -> None:
    before = await _owner_view(api, world.owner)
    resp = await api.request(key[0], key[1], json=ROUTES[key].body, headers=world.intruder.headers)
    assert resp.status_code < 500 or resp.status_code == 503, (key, resp.text)
    assert await _owner_view(api, world.owner) == before, key


async def test_the_owners_template_renders_for_the_owner_only(api: httpx.AsyncClient, world: World) -> None:
    mine = await api.post("/v1/templates/private/render", json={}, headers=world.owner.headers)
    assert mine.status_code == 200, mine.text
    assert mine.json()["subject"] == "Private"
    theirs = await api.post("/v1/templates/private/render", json={}, headers=world.intruder.headers)
    assert theirs.status_code == 404
    assert "only for owner" not in theirs.text
