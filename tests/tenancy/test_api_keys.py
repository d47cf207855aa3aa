"""S2 through the HTTP API: how a key may be presented, what is refused, and what the hot path costs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.tenancy import auth as tenancy_auth
from iep.tenancy import keys as tenancy_keys
from iep.tenancy import repository as tenancy_repository
from iep.tenancy import service as tenancy
from tests.conftest import TenantKey, make_tenant

PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}
PROBLEM_JSON = "application/problem+json"


def _split(key: str) -> tuple[str, str]:
    """`iep_<prefix>_<secret>` → (prefix, secret); the secret itself may contain `_`."""
    marker, prefix, secret = key.split("_", 2)
    assert marker == "iep"
    assert len(prefix) == 8
    return prefix, secret


def _assert_problem(resp: httpx.Response, status: int, kind: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_JSON)
    body = resp.json()
    assert body["type"].endswith(f"/{kind}"), body
    assert body["status"] == status


async def _send(api: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await api.post("/v1/messages", json=PAYLOAD, headers=headers)


async def _key_row(container: Container, prefix: str) -> dict[str, object]:
    async with container.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM api_keys WHERE key_prefix = :p"), {"p": prefix})).one()
    return dict(row._mapping)


# --- ways to present a key ---------------------------------------------------------------------------------


async def test_bearer_key_sends_and_lists(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    sent = await _send(api, {"Authorization": f"Bearer {tenant.key}"})
    assert sent.status_code == 202, sent.text
    listed = await api.get("/v1/messages", headers={"Authorization": f"Bearer {tenant.key}"})
    assert listed.status_code == 200
    assert [m["messageId"] for m in listed.json()["data"]] == [sent.json()["messageId"]]


async def test_bearer_scheme_is_case_insensitive(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    resp = await api.get("/v1/messages", headers={"Authorization": f"bearer {tenant.key}"})
    assert resp.status_code == 200


async def test_x_api_key_with_the_full_key(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    sent = await _send(api, {"X-Api-Key": tenant.key})
    assert sent.status_code == 202, sent.text
    listed = await api.get("/v1/messages", headers={"X-Api-Key": tenant.key})
    assert listed.status_code == 200
    assert len(listed.json()["data"]) == 1


async def test_seed_pair_prefix_and_secret(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    prefix, secret = _split(tenant.key)
    headers = {"X-Api-Key": f"iep_{prefix}", "X-Api-Secret": secret}
    sent = await _send(api, headers)
    assert sent.status_code == 202, sent.text
    listed = await api.get("/v1/messages", headers=headers)
    assert listed.status_code == 200
    assert len(listed.json()["data"]) == 1


async def test_seed_pair_with_a_wrong_secret_is_refused(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    prefix, _ = _split(tenant.key)
    resp = await _send(api, {"X-Api-Key": f"iep_{prefix}", "X-Api-Secret": "not-the-secret"})
    _assert_problem(resp, 401, "unauthenticated")


# --- refusals: 401 -----------------------------------------------------------------------------------------


async def test_no_key_is_401_problem(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    del tenant
    for resp in (await _send(api, {}), await api.get("/v1/messages")):
        _assert_problem(resp, 401, "unauthenticated")


async def test_wrong_secret_with_a_real_prefix_is_401(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    prefix, secret = _split(tenant.key)
    wrong = f"iep_{prefix}_{secret[::-1]}x"
    for headers in ({"Authorization": f"Bearer {wrong}"}, {"X-Api-Key": wrong}):
        _assert_problem(await _send(api, headers), 401, "unauthenticated")
        _assert_problem(await api.get("/v1/messages", headers=headers), 401, "unauthenticated")
    # The real key is unaffected by the failed attempts.
    assert (await api.get("/v1/messages", headers=tenant.headers)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer iep_short_secret"},
        {"Authorization": "Bearer iep_zzzzzzzz_no-such-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-Api-Key": "garbage"},
        {"X-Api-Key": "iep_" + "a" * 8 + "_" + "b" * 300},
        {"X-Api-Key": ""},
    ],
    ids=[
        "bearer-garbage",
        "short-prefix",
        "unknown-prefix",
        "basic",
        "x-api-key-garbage",
        "too-long",
        "empty",
    ],
)
async def test_garbage_key_is_401(api: httpx.AsyncClient, tenant: TenantKey, headers: dict[str, str]) -> None:
    del tenant
    _assert_problem(await _send(api, headers), 401, "unauthenticated")


async def test_expired_key_is_401(api: httpx.AsyncClient, container: Container, clock: FakeClock) -> None:
    await make_tenant(container, "acme")
    async with container.engine.begin() as conn:
        _, key = await tenancy.create_key(
            conn, tenant_slug="acme", scopes=["send", "read"], expires_at=clock.now() - timedelta(minutes=1)
        )
    headers = {"Authorization": f"Bearer {key}"}
    _assert_problem(await _send(api, headers), 401, "unauthenticated")
    _assert_problem(await api.get("/v1/messages", headers=headers), 401, "unauthenticated")


async def test_key_expiring_later_works_until_it_expires(
    api: httpx.AsyncClient, container: Container, clock: FakeClock
) -> None:
    await make_tenant(container, "acme")
    async with container.engine.begin() as conn:
        _, key = await tenancy.create_key(
            conn, tenant_slug="acme", scopes=["read"], expires_at=clock.now() + timedelta(minutes=1)
        )
    headers = {"Authorization": f"Bearer {key}"}
    assert (await api.get("/v1/messages", headers=headers)).status_code == 200
    clock.advance(61)  # the cached entry still knows its expiry
    _assert_problem(await api.get("/v1/messages", headers=headers), 401, "unauthenticated")


# --- refusals: 403 -----------------------------------------------------------------------------------------


async def test_read_only_key_cannot_send_but_can_list(api: httpx.AsyncClient, container: Container) -> None:
    reader = await make_tenant(container, "acme", scopes=("read",))
    _assert_problem(await _send(api, reader.headers), 403, "forbidden")
    listed = await api.get("/v1/messages", headers=reader.headers)
    assert listed.status_code == 200
    assert listed.json()["data"] == []


async def test_suspended_tenant_is_403_on_every_endpoint(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)
    sent = await _send(api, tenant.headers)
    assert sent.status_code == 202
    message_id = sent.json()["messageId"]
    # A second key never seen by this process: it goes through the full (Argon2) path, not the cache.
    async with container.engine.begin() as conn:
        _, fresh = await tenancy.create_key(conn, tenant_slug=tenant.slug, scopes=["send", "read"])
        await tenancy.set_active(conn, tenant.slug, active=False)

    for headers in (tenant.headers, {"Authorization": f"Bearer {fresh}"}):
        _assert_problem(await _send(api, headers), 403, "tenant-suspended")
        _assert_problem(await api.get("/v1/messages", headers=headers), 403, "tenant-suspended")
        _assert_problem(await api.get(f"/v1/messages/{message_id}", headers=headers), 403, "tenant-suspended")

    async with container.engine.begin() as conn:
        await tenancy.set_active(conn, tenant.slug, active=True)
    assert (await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)).status_code == 200


async def test_revoked_key_is_refused_within_the_real_recheck_interval(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    assert tenancy_auth.RECHECK_SECONDS == 1.0
    assert (await api.get("/v1/messages", headers=tenant.headers)).status_code == 200  # now cached
    prefix, _ = _split(tenant.key)
    async with container.engine.begin() as conn:
        await tenancy.revoke_key(conn, prefix)
    await asyncio.sleep(1.1)
    _assert_problem(await api.get("/v1/messages", headers=tenant.headers), 401, "unauthenticated")
    _assert_problem(await _send(api, tenant.headers), 401, "unauthenticated")


# --- cost of the hot path and what is stored ---------------------------------------------------------------


async def test_argon2_is_paid_once_per_key(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_verify = tenancy_keys.verify

    def counting_verify(key_hash: str, full: str) -> bool:
        calls.append(full)
        return real_verify(key_hash, full)

    monkeypatch.setattr(tenancy_keys, "verify", counting_verify)
    prefix, _ = _split(tenant.key)

    # A cold burst: concurrent first requests share one verification.
    burst = await asyncio.gather(*(api.get("/v1/messages", headers=tenant.headers) for _ in range(8)))
    assert [r.status_code for r in burst] == [200] * 8
    for _ in range(6):
        assert (await _send(api, tenant.headers)).status_code == 202
    more = await asyncio.gather(*(api.get("/v1/messages", headers=tenant.headers) for _ in range(6)))
    assert [r.status_code for r in more] == [200] * 6
    assert len(calls) == 1

    # A recheck re-reads the key from the database (no Argon2) and records its use.
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)
    assert (await api.get("/v1/messages", headers=tenant.headers)).status_code == 200
    assert len(calls) == 1
    row = await _key_row(container, prefix)
    assert row["last_used_at"] is not None


async def test_a_stale_key_is_rechecked_once_for_a_burst_of_requests(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await api.get("/v1/messages", headers=tenant.headers)).status_code == 200  # verified and cached
    touches: list[object] = []
    real_touch = tenancy_repository.touch_key

    async def counting_touch(*args: Any) -> Any:
        touches.append(args)
        return await real_touch(*args)

    monkeypatch.setattr(tenancy_repository, "touch_key", counting_touch)
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)  # every cached entry is stale from now on
    burst = await asyncio.gather(*(_send(api, tenant.headers) for _ in range(16)))
    assert [r.status_code for r in burst] == [202] * 16
    # Each request that finds the entry stale joins the re-read already running instead of writing the key's
    # row itself; how many re-reads run depends on how the burst interleaves, never one per request.
    assert 1 <= len(touches) < 16


async def test_database_stores_no_plaintext_key(container: Container, tenant: TenantKey) -> None:
    prefix, secret = _split(tenant.key)
    row = await _key_row(container, prefix)
    key_hash = row["key_hash"]
    assert isinstance(key_hash, str)
    assert key_hash.startswith("$argon2id$")
    for column, value in row.items():
        assert tenant.key not in str(value), column
        assert secret not in str(value), column
