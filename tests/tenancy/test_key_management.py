"""S2 through `/v1/keys` (scope `admin`): create, list, rotate with a grace period, revoke; the 1 s bound on two
API replicas sharing one database; `last_used_at` written at most once a minute."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from iep import bootstrap
from iep.bootstrap import Container
from iep.entrypoints.api import create_app
from iep.kit.clock import FakeClock
from iep.tenancy import auth as tenancy_auth
from iep.tenancy import service as tenancy
from tests.conftest import TenantKey, make_tenant

PROBLEM_JSON = "application/problem+json"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _problem(resp: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = resp.json()
    assert body["type"].endswith(f"/{kind}"), body
    return body


async def _works(api: httpx.AsyncClient, key: str) -> int:
    return (await api.get("/v1/messages", headers=_bearer(key))).status_code


@pytest.fixture
async def owner(container: Container) -> TenantKey:
    return await make_tenant(container, "owner", scopes=("admin",))


async def _create(api: httpx.AsyncClient, owner: TenantKey, **body: Any) -> dict[str, Any]:
    resp = await api.post("/v1/keys", json={"scopes": ["send", "read"], **body}, headers=owner.headers)
    assert resp.status_code == 201, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


async def test_create_shows_the_secret_once_and_list_never_does(
    api: httpx.AsyncClient, container: Container, owner: TenantKey
) -> None:
    created = await _create(api, owner, name="billing")
    key, prefix = created["key"], created["prefix"]
    assert key.startswith(f"iep_{prefix}_")
    assert created["scopes"] == ["read", "send"]
    assert created["status"] == "active"
    assert await _works(api, key) == 200

    listed = await api.get("/v1/keys", headers=owner.headers)
    assert listed.status_code == 200
    rows = {k["prefix"]: k for k in listed.json()["data"]}
    assert set(rows) == {prefix, owner.key.split("_")[1]}
    assert set(rows[prefix]) == {
        "prefix", "name", "scopes", "status", "createdAt", "expiresAt", "lastUsedAt", "revokedAt", "rotatedTo",
    }  # fmt: skip
    assert rows[prefix]["name"] == "billing"
    assert key.split("_", 2)[2] not in listed.text
    async with container.engine.connect() as conn:
        key_hash = (
            await conn.execute(text("SELECT key_hash FROM api_keys WHERE key_prefix = :p"), {"p": prefix})
        ).scalar()
    assert key_hash not in listed.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["send", "root"]}, "scopes[1]"),
        ({"scopes": ["send"], "expiresAt": "2025-12-31T23:00:00Z"}, "expiresAt"),
        ({"scopes": ["send"], "expiresAt": "2027-01-01T00:00:00"}, "expiresAt"),
        ({"scopes": ["send"], "secret": "mine"}, "secret"),
    ],
    ids=["no-scopes", "unknown-scope", "expiry-in-the-past", "expiry-without-zone", "unknown-field"],
)
async def test_invalid_creates_are_one_422(
    api: httpx.AsyncClient, owner: TenantKey, body: dict[str, Any], field: str
) -> None:
    doc = _problem(await api.post("/v1/keys", json=body, headers=owner.headers), 422, "validation")
    assert field in [e["field"] for e in doc["errors"]], doc


@pytest.mark.parametrize("scopes", [("send",), ("read",), ("send", "read")], ids=["send", "read", "send-read"])
async def test_key_management_needs_the_admin_scope(
    api: httpx.AsyncClient, container: Container, scopes: tuple[str, ...]
) -> None:
    weak = await make_tenant(container, "weak", scopes=scopes)
    _problem(await api.get("/v1/keys", headers=weak.headers), 403, "forbidden")
    _problem(await api.post("/v1/keys", json={"scopes": ["admin"]}, headers=weak.headers), 403, "forbidden")


async def test_a_key_cannot_grant_a_scope_its_creator_lacks(container: Container, owner: TenantKey) -> None:
    tenant_id = (await container.authenticator.authenticate(_presented(owner.key), "admin")).tenant_id
    async with container.engine.begin() as conn:
        with pytest.raises(tenancy.ScopeNotHeld, match="admin"):
            await tenancy.issue_key(conn, tenant_id=tenant_id, scopes=["send", "admin"], granted_by=frozenset({"send"}))
        row, _ = await tenancy.issue_key(conn, tenant_id=tenant_id, scopes=["send"], granted_by=frozenset({"send"}))
        assert row["scopes"] == ["send"]
        row, _ = await tenancy.issue_key(conn, tenant_id=tenant_id, scopes=["read"], granted_by=frozenset({"admin"}))
        assert row["scopes"] == ["read"]


def _presented(key: str) -> Any:
    from iep.tenancy import keys

    return keys.parse(key)


async def test_an_expiring_key_is_refused_once_expired(
    api: httpx.AsyncClient, owner: TenantKey, clock: FakeClock
) -> None:
    created = await _create(api, owner, expiresAt=(clock.now() + timedelta(minutes=5)).isoformat())
    assert await _works(api, created["key"]) == 200
    clock.advance(299)
    assert await _works(api, created["key"]) == 200
    clock.advance(2)
    _problem(await api.get("/v1/messages", headers=_bearer(created["key"])), 401, "unauthenticated")
    listed = (await api.get("/v1/keys", headers=owner.headers)).json()["data"]
    assert {k["prefix"]: k["status"] for k in listed}[created["prefix"]] == "expired"


async def test_rotation_both_keys_work_during_the_grace_then_only_the_new_one(
    api: httpx.AsyncClient, owner: TenantKey, clock: FakeClock
) -> None:
    old = await _create(api, owner)
    assert await _works(api, old["key"]) == 200  # verified and cached by this process

    resp = await api.post(f"/v1/keys/{old['prefix']}/rotate", json={"graceSeconds": 120}, headers=owner.headers)
    assert resp.status_code == 201, resp.text
    rotated = resp.json()
    new_key = rotated["key"]
    assert rotated["prefix"] != old["prefix"]
    assert rotated["scopes"] == old["scopes"]
    assert rotated["previous"]["prefix"] == old["prefix"]
    assert rotated["previous"]["rotatedTo"] == rotated["prefix"]
    assert rotated["previous"]["expiresAt"] is not None

    await asyncio.sleep(tenancy_auth.RECHECK_SECONDS + 0.1)  # the cached old key is re-read for real
    for _ in range(3):
        assert await _works(api, old["key"]) == 200
        assert await _works(api, new_key) == 200
        clock.advance(39)  # 117 s of the 120 s grace
    clock.advance(4)
    _problem(await api.get("/v1/messages", headers=_bearer(old["key"])), 401, "unauthenticated")
    assert await _works(api, new_key) == 200


async def test_rotation_without_grace_refuses_the_old_key_within_a_second(
    api: httpx.AsyncClient, owner: TenantKey
) -> None:
    old = await _create(api, owner)
    assert await _works(api, old["key"]) == 200
    resp = await api.post(f"/v1/keys/{old['prefix']}/rotate", json={"graceSeconds": 0}, headers=owner.headers)
    assert resp.status_code == 201, resp.text
    await _refused_once_the_recheck_is_due(api, old["key"], since=time.monotonic())
    assert await _works(api, resp.json()["key"]) == 200


async def test_rotation_defaults_to_an_hour_and_refuses_revoked_keys(
    api: httpx.AsyncClient, owner: TenantKey, clock: FakeClock
) -> None:
    old = await _create(api, owner)
    resp = await api.post(f"/v1/keys/{old['prefix']}/rotate", headers=owner.headers)  # no body at all
    assert resp.status_code == 201, resp.text
    assert datetime.fromisoformat(resp.json()["previous"]["expiresAt"]) == clock.now() + timedelta(hours=1)
    assert (await api.delete(f"/v1/keys/{old['prefix']}", headers=owner.headers)).status_code == 204
    _problem(await api.post(f"/v1/keys/{old['prefix']}/rotate", headers=owner.headers), 409, "conflict")
    bad = await api.post(f"/v1/keys/{resp.json()['prefix']}/rotate", json={"graceSeconds": -1}, headers=owner.headers)
    _problem(bad, 422, "validation")


async def test_revoke_is_final_idempotent_and_listed(api: httpx.AsyncClient, owner: TenantKey) -> None:
    created = await _create(api, owner)
    assert await _works(api, created["key"]) == 200
    assert (await api.delete(f"/v1/keys/{created['prefix']}", headers=owner.headers)).status_code == 204
    first = {k["prefix"]: k for k in (await api.get("/v1/keys", headers=owner.headers)).json()["data"]}
    assert first[created["prefix"]]["status"] == "revoked"
    assert first[created["prefix"]]["revokedAt"] is not None
    assert (await api.delete(f"/v1/keys/{created['prefix']}", headers=owner.headers)).status_code == 204
    again = {k["prefix"]: k for k in (await api.get("/v1/keys", headers=owner.headers)).json()["data"]}
    assert again[created["prefix"]]["revokedAt"] == first[created["prefix"]]["revokedAt"]  # the first one stands
    await _refused_within(api, created["key"], 1.5)


async def test_another_tenants_prefix_is_a_404_like_a_missing_one(
    api: httpx.AsyncClient, container: Container, owner: TenantKey
) -> None:
    intruder = await make_tenant(container, "intruder", scopes=("admin",))
    victim = await _create(api, owner)
    for method, path in (("DELETE", "/v1/keys/{p}"), ("POST", "/v1/keys/{p}/rotate")):
        foreign = await api.request(method, path.format(p=victim["prefix"]), headers=intruder.headers)
        missing = await api.request(method, path.format(p="zzzzzzzz"), headers=intruder.headers)
        assert _without_instance(_problem(foreign, 404, "not-found")) == _without_instance(
            _problem(missing, 404, "not-found")
        )
    listed = (await api.get("/v1/keys", headers=intruder.headers)).json()["data"]
    assert victim["prefix"] not in {k["prefix"] for k in listed}
    assert await _works(api, victim["key"]) == 200  # untouched


def _without_instance(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "instance"}


async def test_last_used_at_is_written_at_most_once_a_minute(
    api: httpx.AsyncClient, container: Container, owner: TenantKey, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await _create(api, owner)
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)  # every request re-reads the key
    assert await _works(api, created["key"]) == 200  # verified: no write yet
    assert await _works(api, created["key"]) == 200  # first re-read: writes last_used_at
    first = await _last_used(container, created["prefix"])
    assert first == clock.now()
    for _ in range(5):
        clock.advance(10)
        assert await _works(api, created["key"]) == 200
    assert await _last_used(container, created["prefix"]) == first  # 50 s later: not written again
    clock.advance(11)
    assert await _works(api, created["key"]) == 200
    assert await _last_used(container, created["prefix"]) == clock.now()


async def _last_used(container: Container, prefix: str) -> Any:
    async with container.engine.connect() as conn:
        return (
            await conn.execute(text("SELECT last_used_at FROM api_keys WHERE key_prefix = :p"), {"p": prefix})
        ).scalar()


async def _refused_within(api: httpx.AsyncClient, key: str, limit: float) -> float:
    """Poll until the key is refused with 401; return how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        resp = await api.get("/v1/messages", headers=_bearer(key))
        if resp.status_code == 401:
            _problem(resp, 401, "unauthenticated")
            return time.monotonic() - started
        assert resp.status_code == 200, resp.text
        await asyncio.sleep(0.05)
    raise AssertionError(f"the key still worked {limit} s later")


async def _refused_once_the_recheck_is_due(api: httpx.AsyncClient, key: str, *, since: float) -> None:
    """The 1 s bound, without timing the machine: every request made RECHECK_SECONDS after the change (by this
    process's monotonic clock, which the key cache uses too) is refused, however slow the machine is."""
    await asyncio.sleep(max(0.0, since + tenancy_auth.RECHECK_SECONDS - time.monotonic()) + 0.01)
    _problem(await api.get("/v1/messages", headers=_bearer(key)), 401, "unauthenticated")


# --- two API replicas on one database -----------------------------------------------------------------------


@pytest.fixture
async def second_replica(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process's state: its own engine and its own verified-key cache, the same database."""
    other = bootstrap.build(
        container.settings, container.database_url, clock=container.clock, providers={}, renderer=container.renderer
    )
    transport = httpx.ASGITransport(app=create_app(other))
    async with httpx.AsyncClient(transport=transport, base_url="http://replica-b.test") as client:
        yield client
    await other.close()


@pytest.mark.parametrize("how", ["revoke", "rotate-without-grace"])
async def test_two_replicas_refuse_a_revoked_key_within_a_second(
    api: httpx.AsyncClient, second_replica: httpx.AsyncClient, owner: TenantKey, how: str
) -> None:
    created = await _create(api, owner)
    for replica in (api, second_replica):
        for _ in range(3):  # verified, cached, and used from the cache
            assert await _works(replica, created["key"]) == 200
    if how == "revoke":
        resp = await second_replica.delete(f"/v1/keys/{created['prefix']}", headers=owner.headers)
        assert resp.status_code == 204
    else:
        resp = await second_replica.post(
            f"/v1/keys/{created['prefix']}/rotate", json={"graceSeconds": 0}, headers=owner.headers
        )
        assert resp.status_code == 201
    # From the moment the change committed, neither replica takes the key once its re-read is due.
    since = time.monotonic()
    await asyncio.gather(
        _refused_once_the_recheck_is_due(api, created["key"], since=since),
        _refused_once_the_recheck_is_due(second_replica, created["key"], since=since),
    )
