"""S2 under attack: wrong secrets with a real key prefix cannot buy unbounded Argon2id work (docs/security.md)."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from iep.bootstrap import Container
from iep.delivery.rate_limit import RedisBucketStore
from iep.tenancy import auth, keys
from tests.conftest import TenantKey, make_tenant

SEND = {
    "to": ["user@example.com"],
    "from": "noreply@product.example",
    "subject": "Hello",
    "textBody": "Hi",
}


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Argon2id verification, counted by wrapping the one function that runs it."""
    calls: list[str] = []
    real = keys.verify

    def counting(key_hash: str, full: str) -> bool:
        calls.append(full)
        return real(key_hash, full)

    monkeypatch.setattr(keys, "verify", counting)
    return calls


def _wrong(key: TenantKey) -> dict[str, str]:
    prefix = key.key.split("_")[1]
    return {"Authorization": f"Bearer iep_{prefix}_{secrets.token_urlsafe(32)}"}


async def test_wrong_secrets_cost_a_bounded_number_of_verifications(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, argon2_calls: list[str]
) -> None:
    other = await make_tenant(container, "bystander")
    assert (await api.post("/v1/messages", json=SEND, headers=other.headers)).status_code == 202
    argon2_calls.clear()

    async def attack(i: int) -> int:
        return (await api.post("/v1/messages", json=SEND, headers=_wrong(tenant))).status_code

    async def bystander() -> list[int]:
        codes = []
        for _ in range(20):
            codes.append((await api.post("/v1/messages", json=SEND, headers=other.headers)).status_code)
            await asyncio.sleep(0)
        return codes

    results, bystander_codes = await asyncio.gather(asyncio.gather(*(attack(i) for i in range(200))), bystander())
    limits = auth.AuthLimits()
    # The clock is frozen: no bucket refills, so the bound is the smaller burst.
    assert len(argon2_calls) <= min(limits.per_prefix_burst, limits.per_client_burst)
    assert set(results) <= {401, 429}
    assert results.count(429) >= 200 - limits.per_prefix_burst
    assert bystander_codes == [202] * 20


async def test_a_throttled_answer_is_a_problem_with_retry_after(
    api: httpx.AsyncClient, tenant: TenantKey, argon2_calls: list[str]
) -> None:
    for _ in range(int(auth.AuthLimits().per_prefix_burst)):
        assert (await api.get("/v1/messages", headers=_wrong(tenant))).status_code == 401
    resp = await api.get("/v1/messages", headers=_wrong(tenant))
    assert resp.status_code == 429
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["type"].endswith("/too-many-auth-attempts")
    assert int(resp.headers["Retry-After"]) >= 1


async def test_a_failed_key_is_remembered_and_not_verified_again(
    api: httpx.AsyncClient, tenant: TenantKey, argon2_calls: list[str]
) -> None:
    wrong = _wrong(tenant)
    codes = [(await api.get("/v1/messages", headers=wrong)).status_code for _ in range(50)]
    assert codes == [401] * 50
    assert len(argon2_calls) == 1


async def test_the_right_key_still_works_after_wrong_ones(
    api: httpx.AsyncClient, tenant: TenantKey, argon2_calls: list[str]
) -> None:
    for _ in range(3):
        await api.get("/v1/messages", headers=_wrong(tenant))
    assert (await api.get("/v1/messages", headers=tenant.headers)).status_code == 200


async def test_unknown_prefixes_never_run_argon2(
    api: httpx.AsyncClient, tenant: TenantKey, argon2_calls: list[str]
) -> None:
    for i in range(30):
        headers = {"Authorization": f"Bearer iep_zz{i:06d}_{secrets.token_urlsafe(16)}"}
        assert (await api.get("/v1/messages", headers=headers)).status_code == 401
    assert argon2_calls == []


async def test_the_buckets_are_shared_through_redis(
    container: Container, redis_url: str, tenant: TenantKey, argon2_calls: list[str]
) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    namespace = f"iep-test-{secrets.token_hex(4)}:"
    try:
        replicas = [
            auth.Authenticator(container.engine, container.clock, buckets=RedisBucketStore(client, prefix=namespace))
            for _ in range(3)
        ]
        prefix = tenant.key.split("_")[1]
        answers = []
        for i in range(30):
            presented = keys.PresentedKey(prefix=prefix, full=f"iep_{prefix}_{secrets.token_urlsafe(24)}")
            try:
                await replicas[i % 3].authenticate(presented, "send", "192.0.2.7")
                answers.append(200)
            except Exception as exc:
                answers.append(getattr(exc, "status", 500))
        assert len(argon2_calls) <= auth.AuthLimits().per_prefix_burst
        assert set(answers) == {401, 429}
    finally:
        async for name in client.scan_iter(f"{namespace}*"):
            await client.delete(name)
        await client.aclose()
