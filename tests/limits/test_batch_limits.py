"""S3, S4 for `POST /v1/messages/batch`: every message of a batch counts, a refused item takes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from iep.messages.models import messages
from tests.limits.conftest import Stack, limited_tenant
from tests.messages.test_batch import item


async def _count(stack: Stack) -> int:
    async with stack.container.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(messages))).scalar_one())


async def test_limits_count_every_message_of_a_batch(stack: Stack) -> None:
    tenant = await limited_tenant(stack.container, "acme", stack.clock, max_per_minute=5)
    over = await stack.api.post("/v1/messages/batch", json={"messages": [item(n) for n in range(6)]},
                                headers=tenant.headers)  # fmt: skip
    assert over.status_code == 429
    assert over.json()["type"].endswith("/rate-limited")
    assert await _count(stack) == 0
    # Rejected items take nothing: 4 valid + 1 invalid leave one message of the minute.
    body = {"messages": [item(n) for n in range(4)] + [{**item(4), "to": ["bad"]}]}
    ok = await stack.api.post("/v1/messages/batch", json=body, headers=tenant.headers)
    assert ok.status_code == 200
    assert ok.headers["RateLimit-Remaining"] == "1"
    two = await stack.api.post("/v1/messages/batch", json={"messages": [item(7), item(8)]}, headers=tenant.headers)
    assert two.status_code == 429
    one = await stack.api.post("/v1/messages/batch", json={"messages": [item(7)]}, headers=tenant.headers)
    assert one.status_code == 200
    assert await _count(stack) == 5
