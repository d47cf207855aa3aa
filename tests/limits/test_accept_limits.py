"""S3, S4 at accept: 429 problems with Retry-After and RateLimit-*, the quota never overshot under concurrency,
replays and failed accepts not counted, the hit counter, and `GET /v1/usage`."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from iep.kit.problems import PROBLEM_BASE
from iep.limits import service
from iep.tenancy import auth as tenancy_auth
from tests.conftest import make_tenant
from tests.limits.conftest import Stack, limited_tenant, message

MONTH_SECONDS = 31 * 86400  # the FakeClock starts at 2026-01-01T00:00:00Z


def _hits(body: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["tenant"], s.labels["kind"]): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "iep_rate_limit_hits_total"
    }


async def test_a_refusal_is_a_problem_with_retry_after_and_ratelimit_headers(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "acme", stack.clock, max_per_minute=2, max_per_day=10)
    stack.clock.advance(15)  # 45 s left in the minute
    first = await stack.api.post("/v1/messages", json=message(1), headers=tenant.headers)
    assert first.status_code == 202, first.text
    # The window closest to exhaustion: the minute, one left, 45 s to its end.
    assert first.headers["RateLimit-Limit"] == "2"
    assert first.headers["RateLimit-Remaining"] == "1"
    assert first.headers["RateLimit-Reset"] == "45"
    assert first.headers["RateLimit-Policy"] == "2;w=60, 10;w=86400"
    second = await stack.api.post("/v1/send", json=message(2) | {"props": {}}, headers=tenant.headers)
    assert second.status_code == 202, second.text
    assert second.headers["RateLimit-Remaining"] == "0"

    refused = await stack.api.post("/v1/messages", json=message(3), headers=tenant.headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "45"
    assert refused.headers["RateLimit-Limit"] == "2"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == "45"
    body = refused.json()
    assert body["type"] == PROBLEM_BASE + "rate-limited"
    assert body["status"] == 429
    assert body["kind"] == "minute"
    assert body["limit"] == 2
    assert body["instance"] == "/v1/messages"

    stack.clock.advance(45)  # the next minute
    again = await stack.api.post("/v1/messages", json=message(4), headers=tenant.headers)
    assert again.status_code == 202, again.text

    metrics = (await stack.api.get("/metrics")).text
    assert _hits(metrics) == {("acme", "minute"): 1.0}


async def test_a_tenant_without_limits_gets_no_ratelimit_headers(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "free", stack.clock, max_per_minute=0)
    resp = await stack.api.post("/v1/messages", json=message(), headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    assert "RateLimit-Limit" not in resp.headers


async def test_the_burst_bucket_refuses_until_it_refills(stack: Stack) -> None:
    # 60 a minute refills one token a second; at most 3 at once.
    tenant = await limited_tenant(stack.container, "bursty", stack.clock, max_per_minute=60, burst=3)
    codes = [
        (await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    refused = await stack.api.post("/v1/messages", json=message(9), headers=tenant.headers)
    assert refused.json()["kind"] == "burst"
    assert refused.headers["Retry-After"] == "1"
    stack.clock.advance(1)
    assert (await stack.api.post("/v1/messages", json=message(5), headers=tenant.headers)).status_code == 202
    assert (await stack.api.post("/v1/messages", json=message(6), headers=tenant.headers)).status_code == 429
    stack.clock.advance(2.5)  # two and a half tokens back: two sends
    codes = [
        (await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code for i in range(3)
    ]
    assert codes == [202, 202, 429]


async def test_the_monthly_quota_answers_quota_exceeded_until_next_month(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "quota", stack.clock, monthly_quota=2, max_per_minute=100)
    for i in range(2):
        ok = await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)
        assert ok.status_code == 202, ok.text
    assert ok.headers["RateLimit-Limit"] == "2"
    assert ok.headers["RateLimit-Remaining"] == "0"
    refused = await stack.api.post("/v1/messages", json=message(3), headers=tenant.headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["type"] == PROBLEM_BASE + "quota-exceeded"
    assert body["limit"] == 2
    assert body["used"] == 2
    assert body["resetsAt"] == "2026-02-01T00:00:00Z"
    assert refused.headers["Retry-After"] == str(MONTH_SECONDS)
    assert refused.headers["RateLimit-Remaining"] == "0"
    stack.clock.advance(MONTH_SECONDS)
    assert (await stack.api.post("/v1/messages", json=message(4), headers=tenant.headers)).status_code == 202
    assert _hits((await stack.api.get("/metrics")).text) == {("quota", "quota"): 1.0}


async def test_replays_and_failed_accepts_give_their_count_back(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "idem", stack.clock, monthly_quota=2, max_per_minute=2)
    keyed = {**tenant.headers, "Idempotency-Key": "order-1"}
    first = await stack.api.post("/v1/messages", json=message(1), headers=keyed)
    assert first.status_code == 202, first.text
    for _ in range(3):  # the same request again: the original answer, nothing counted
        replay = await stack.api.post("/v1/messages", json=message(1), headers=keyed)
        assert replay.status_code == 202
        assert replay.headers["Idempotent-Replayed"] == "true"
    reused = await stack.api.post("/v1/messages", json=message(2), headers=keyed)  # same key, other body: 422
    assert reused.status_code == 422
    # One message accepted so far: exactly one more fits the minute and the month.
    second = await stack.api.post("/v1/messages", json=message(3), headers=tenant.headers)
    assert second.status_code == 202, second.text
    third = await stack.api.post("/v1/messages", json=message(4), headers=tenant.headers)
    assert third.status_code == 429
    assert third.json()["type"] == PROBLEM_BASE + "quota-exceeded"


async def test_an_invalid_body_takes_nothing(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "strict", stack.clock, max_per_minute=1)
    bad = await stack.api.post("/v1/messages", json={"to": ["nobody"]}, headers=tenant.headers)
    assert bad.status_code == 422
    assert (await stack.api.post("/v1/messages", json=message(), headers=tenant.headers)).status_code == 202


async def test_concurrent_sends_never_overshoot_the_remaining_quota(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "busy", stack.clock, monthly_quota=60)
    for i in range(10):  # already used this month: 50 remain
        assert (await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code == 202

    async def send(i: int) -> int:
        return (await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code

    codes = await asyncio.gather(*(send(i) for i in range(500)))
    assert codes.count(202) == 50
    assert codes.count(429) == 450
    usage = (await stack.api.get("/v1/usage", headers=tenant.headers)).json()
    assert usage["month"] == {"used": 60, "limit": 60, "remaining": 0, "resetsAt": "2026-02-01T00:00:00Z"}


async def test_the_quota_counts_what_was_accepted_before_it_was_set(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)  # settings re-read on every request
    tenant = await limited_tenant(stack.container, "late", stack.clock, max_per_minute=0)
    for i in range(3):
        assert (await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code == 202
    async with stack.container.engine.begin() as conn:
        await service.update_limits(conn, "late", {"monthly_quota": 4}, stack.clock.now())
    assert (await stack.api.post("/v1/messages", json=message(3), headers=tenant.headers)).status_code == 202
    assert (await stack.api.post("/v1/messages", json=message(4), headers=tenant.headers)).status_code == 429


async def test_usage_reports_each_window_beside_its_limit(stack: Stack) -> None:
    tenant = await limited_tenant(
        stack.container, "usage", stack.clock, max_per_minute=10, max_per_hour=100, burst=5, monthly_quota=1000
    )
    for i in range(3):
        assert (await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code == 202
    stack.clock.advance(61)  # next minute: one more
    assert (await stack.api.post("/v1/messages", json=message(9), headers=tenant.headers)).status_code == 202
    resp = await stack.api.get("/v1/usage", headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "tenant": "usage",
        "minute": {"used": 1, "limit": 10, "remaining": 9, "resetsAt": "2026-01-01T00:02:00Z"},
        "hour": {"used": 4, "limit": 100, "remaining": 96, "resetsAt": "2026-01-01T01:00:00Z"},
        "day": {"used": 4, "limit": None, "remaining": None, "resetsAt": "2026-01-02T00:00:00Z"},
        "month": {"used": 4, "limit": 1000, "remaining": 996, "resetsAt": "2026-02-01T00:00:00Z"},
        # 5 at once; 3 taken at 00:00:00, 61 s at 1/6 a second refills them, then 1 taken.
        "burst": {"limit": 5, "available": 4.0, "refillPerSecond": 10 / 60},
    }
    unauthenticated = await stack.api.get("/v1/usage", headers={"Authorization": "Bearer nope"})
    assert unauthenticated.status_code == 401


async def test_a_lost_quota_counter_is_counted_again_from_the_messages(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "lost", stack.clock, monthly_quota=5)
    for i in range(3):
        assert (await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code == 202
    # The counter disappears: Redis restarted without persistence, or the row was removed by hand.
    if stack.backend == "redis":
        assert stack.container.redis is not None
        lost = [
            k
            async for k in stack.container.redis.scan_iter(
                match=f"{stack.container.settings.redis_key_prefix}limits:*:quota:*"
            )
        ]
        async with stack.container.engine.connect() as conn:
            ident = (await conn.execute(text("SELECT id FROM tenants WHERE slug = 'lost'"))).scalar_one()
        mine = [k for k in lost if str(ident).encode() in k]
        assert len(mine) == 1
        await stack.container.redis.delete(*mine)
    else:
        async with stack.container.engine.begin() as conn:
            assert (await conn.execute(text("DELETE FROM tenant_usage"))).rowcount == 1
    codes = [(await stack.api.post("/v1/messages", json=message(i), headers=tenant.headers)).status_code for i in "abc"]
    assert codes == [202, 202, 429]


async def test_usage_needs_the_read_scope(stack: Stack) -> None:
    sender = await make_tenant(stack.container, "sender", scopes=("send",))
    resp = await stack.api.get("/v1/usage", headers=sender.headers)
    assert resp.status_code == 403
    assert resp.json()["type"] == PROBLEM_BASE + "forbidden"


async def test_a_retry_of_an_accepted_message_gets_its_answer_even_at_the_limit(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "retry", stack.clock, monthly_quota=1, max_per_minute=1)
    keyed = {**tenant.headers, "Idempotency-Key": "last-one"}
    first = await stack.api.post("/v1/messages", json=message(1), headers=keyed)
    assert first.status_code == 202, first.text
    # The answer was lost; the client retries. A 429 would say the message was not accepted: it was.
    retry = await stack.api.post("/v1/messages", json=message(1), headers=keyed)
    assert retry.status_code == 202, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["messageId"] == first.json()["messageId"]
    other_body = await stack.api.post("/v1/messages", json=message(2), headers=keyed)
    assert other_body.status_code == 422
    assert other_body.json()["type"] == PROBLEM_BASE + "idempotency-key-reused"
    new = await stack.api.post("/v1/messages", json=message(3), headers={**tenant.headers, "Idempotency-Key": "new"})
    assert new.status_code == 429
    assert new.json()["type"] == PROBLEM_BASE + "quota-exceeded"
