"""Seed 004 MS-1 through the API: create, read, update, delete, suffixes, events in the outbox, concurrency."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select, text

from iep.bootstrap import Container
from iep.directory.models import directory_events
from tests.conftest import TenantKey, make_tenant
from tests.directory.conftest import Registry


async def _events(container: Container) -> list[dict[str, object]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(select(directory_events.c.payload).order_by(directory_events.c.created_at))
        return [r.payload for r in rows]


async def test_get_returns_primary_and_secondaries(users_api: httpx.AsyncClient, tenant: TenantKey) -> None:
    created = await users_api.post(
        "/v1/users",
        json={"name": "John Doe", "primary": "John.Doe@Corp.example", "secondaries": ["jd@corp.example"]},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["primary"] == "john.doe@corp.example"
    got = await users_api.get(f"/v1/users/{user['id']}", headers=tenant.headers)
    assert got.status_code == 200
    assert got.json()["primary"] == "john.doe@corp.example"
    assert got.json()["secondaries"] == ["jd@corp.example"]
    listed = await users_api.get("/v1/users", headers=tenant.headers)
    assert [u["id"] for u in listed.json()["data"]] == [user["id"]]


async def test_duplicate_address_gets_a_numeric_suffix(users_api: httpx.AsyncClient, tenant: TenantKey) -> None:
    answers = []
    for _ in range(3):
        r = await users_api.post(
            "/v1/users", json={"name": "John", "primary": "john.doe@corp.example"}, headers=tenant.headers
        )
        assert r.status_code == 201, r.text
        answers.append(r.json()["primary"])
    assert answers == ["john.doe@corp.example", "john.doe1@corp.example", "john.doe2@corp.example"]


async def test_an_address_the_registry_holds_is_suffixed_too(
    users_api: httpx.AsyncClient, tenant: TenantKey, container: Container
) -> None:
    # Held by the registry alone (another directory's user, say): the local check cannot know it.
    async with container.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO registry.addresses (address, user_id, kind) VALUES ('ann@corp.example', :u, 'primary')"),
            {"u": uuid.uuid4()},
        )
    r = await users_api.post("/v1/users", json={"name": "Ann", "primary": "ann@corp.example"}, headers=tenant.headers)
    assert r.json()["primary"] == "ann1@corp.example"


async def test_update_moves_the_old_primary_to_the_secondaries(
    users_api: httpx.AsyncClient, tenant: TenantKey, container: Container
) -> None:
    r = await users_api.post(
        "/v1/users",
        json={"name": "Jo", "primary": "jo@corp.example", "secondaries": ["j@corp.example"]},
        headers=tenant.headers,
    )
    uid = r.json()["id"]
    r = await users_api.put(f"/v1/users/{uid}", json={"primary": "joanna@corp.example"}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["primary"] == "joanna@corp.example"
    assert r.json()["secondaries"] == ["j@corp.example", "jo@corp.example"]
    # Promoting a secondary: it leaves the secondaries, the old primary joins them.
    r = await users_api.put(f"/v1/users/{uid}", json={"primary": "j@corp.example"}, headers=tenant.headers)
    assert r.json()["primary"] == "j@corp.example"
    assert sorted(r.json()["secondaries"]) == ["jo@corp.example", "joanna@corp.example"]
    events = await _events(container)
    assert [(e["type"], e["sequence"]) for e in events] == [("UserCreated", 1), ("UserUpdated", 2), ("UserUpdated", 3)]


async def test_a_taken_address_on_update_is_a_409(users_api: httpx.AsyncClient, tenant: TenantKey) -> None:
    await users_api.post("/v1/users", json={"name": "A", "primary": "a@corp.example"}, headers=tenant.headers)
    b = (
        await users_api.post("/v1/users", json={"name": "B", "primary": "b@corp.example"}, headers=tenant.headers)
    ).json()
    r = await users_api.put(f"/v1/users/{b['id']}", json={"primary": "a@corp.example"}, headers=tenant.headers)
    assert r.status_code == 409
    assert r.json()["type"].endswith("/address-taken")


async def test_delete_is_soft_and_writes_an_event(
    users_api: httpx.AsyncClient, tenant: TenantKey, container: Container
) -> None:
    uid = (
        await users_api.post("/v1/users", json={"name": "Del", "primary": "del@corp.example"}, headers=tenant.headers)
    ).json()["id"]
    r = await users_api.delete(f"/v1/users/{uid}", headers=tenant.headers)
    assert r.status_code == 204
    assert (await users_api.get(f"/v1/users/{uid}", headers=tenant.headers)).status_code == 404
    assert (await users_api.delete(f"/v1/users/{uid}", headers=tenant.headers)).status_code == 404
    # The address stays with the deleted user: a new create is suffixed.
    again = await users_api.post("/v1/users", json={"name": "N", "primary": "del@corp.example"}, headers=tenant.headers)
    assert again.json()["primary"] == "del1@corp.example"
    deleted = [e for e in await _events(container) if e["type"] == "UserDeleted"]
    assert [(e["sequence"], e["data"]["deleted"]) for e in deleted] == [(2, True)]


async def test_events_carry_id_sequence_correlation_id_and_schema_version(
    users_api: httpx.AsyncClient, tenant: TenantKey, container: Container
) -> None:
    r = await users_api.post(
        "/v1/users",
        json={"name": "C", "primary": "c@corp.example"},
        headers={**tenant.headers, "X-Correlation-Id": "req-abc-123"},
    )
    assert r.headers["X-Correlation-Id"] == "req-abc-123"
    r2 = await users_api.post("/v1/users", json={"name": "D", "primary": "d@corp.example"}, headers=tenant.headers)
    made = r2.headers["X-Correlation-Id"]
    events = await _events(container)
    assert events[0]["correlationId"] == "req-abc-123"
    assert events[1]["correlationId"] == made
    assert len(made) == 32
    for e in events:
        uuid.UUID(str(e["eventId"]))
        assert (e["schemaVersion"], e["sequence"], e["type"]) == (1, 1, "UserCreated")


async def test_another_tenants_user_is_not_found(
    users_api: httpx.AsyncClient, tenant: TenantKey, container: Container
) -> None:
    other = await make_tenant(container, "other")
    uid = (
        await users_api.post("/v1/users", json={"name": "X", "primary": "x@corp.example"}, headers=tenant.headers)
    ).json()["id"]
    assert (await users_api.get(f"/v1/users/{uid}", headers=other.headers)).status_code == 404
    assert (await users_api.put(f"/v1/users/{uid}", json={"name": "Y"}, headers=other.headers)).status_code == 404
    assert (await users_api.delete(f"/v1/users/{uid}", headers=other.headers)).status_code == 404
    assert (await users_api.get("/v1/users/not-a-uuid", headers=tenant.headers)).status_code == 404


async def test_invalid_bodies_are_422(users_api: httpx.AsyncClient, tenant: TenantKey) -> None:
    r = await users_api.post("/v1/users", json={"name": "", "primary": "not an address"}, headers=tenant.headers)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} >= {"name", "primary"}
    r = await users_api.post(
        "/v1/users", json={"name": "a\u0000b", "primary": "ok@corp.example"}, headers=tenant.headers
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["name"]


async def test_50_concurrent_creates_of_one_address_get_50_distinct_addresses(
    users_api: httpx.AsyncClient, tenant: TenantKey, registry: Registry
) -> None:
    async def create(i: int) -> httpx.Response:
        return await users_api.post(
            "/v1/users", json={"name": f"Same {i}", "primary": "same@corp.example"}, headers=tenant.headers
        )

    answers = await asyncio.gather(*(create(i) for i in range(50)))
    assert [a.status_code for a in answers] == [201] * 50, [a.text for a in answers if a.status_code != 201][:3]
    addresses = {a.json()["primary"] for a in answers}
    assert addresses == {"same@corp.example"} | {f"same{n}@corp.example" for n in range(1, 50)}
