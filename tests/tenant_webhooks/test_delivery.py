"""Signed delivery (F4) to a real receiver on loopback that verifies every request with the `standardwebhooks`
library and with seed 003's `x-iep-signature`; the retry schedule driven by a fake clock; ordering per message;
disabling after persistent failure; replay; and the send step's status writes emitting the events."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

import httpx
from sqlalchemy import select

from iep.bootstrap import Container
from iep.delivery import repository as delivery_repo
from iep.delivery.tasks import deliver_message
from iep.kit.clock import FakeClock
from iep.tenant_webhooks.models import webhook_events
from iep.tenant_webhooks.tasks import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS
from tests.conftest import TenantKey
from tests.support.smtp_sink import SmtpSink
from tests.tenant_webhooks.conftest import ALL_EVENTS, accept, emit, events, register, until, webhooks_role
from tests.tenant_webhooks.receiver import Receiver


def assert_all_verified(receiver: Receiver) -> None:
    assert receiver.received, "nothing was delivered"
    for got in receiver.received:
        assert got.standard_ok, f"standardwebhooks refused {got.headers}"
        assert got.iep_ok, f"x-iep-signature does not match {got.headers}"
        assert got.json()["id"] == got.headers["webhook-id"]


async def test_a_sent_message_is_delivered_signed_with_the_seed_payload(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver, sink: SmtpSink
) -> None:
    await register(api, tenant, receiver, ["message.sent"])
    [message_id] = await accept(api, tenant, 1)
    await deliver_message(hooks.delivery_deps(), message_id)  # record_sent writes the event in its statement
    async with webhooks_role(hooks):
        await until(lambda: _count(receiver, 1), what="one delivery")
    assert_all_verified(receiver)
    body = receiver.received[0].json()
    assert set(body) == {"id", "event", "messageId", "tenantId", "timestamp", "data"}
    assert body["event"] == "message.sent"
    assert body["messageId"] == str(message_id)
    assert body["data"]["to"] == ["u0@example.com"]
    assert body["data"]["subject"] == "S0"
    assert body["data"]["provider"] == "smtp"
    assert body["data"]["attempts"] == 1
    assert receiver.received[0].headers["content-type"] == "application/json"
    assert len(sink.handler.received) == 1


async def test_retry_and_failure_writes_emit_in_their_own_transaction(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver, clock: FakeClock
) -> None:
    await register(api, tenant, receiver, ["message.retrying", "message.failed"])
    [message_id] = await accept(api, tenant, 1)
    lease = timedelta(seconds=60)
    async with hooks.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        assert await delivery_repo.claim(auto, message_id, "w1", clock.now(), lease)
    at = clock.now() + timedelta(seconds=60)
    async with hooks.engine.begin() as conn:
        await delivery_repo.record_retry(
            conn, message_id, "w1", clock.now(), at=at, attempt=1, error="421 busy", code=421, provider="smtp"
        )
    clock.advance(61)
    async with hooks.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        assert await delivery_repo.claim(auto, message_id, "w1", clock.now(), lease)
    async with hooks.engine.begin() as conn:
        await delivery_repo.record_failed(
            conn,
            message_id,
            "w1",
            clock.now(),
            error="550 no",
            code=550,
            reason="permanent",
            provider="smtp",
            dead_letter=False,
        )
        await conn.rollback()  # the status write undone takes its webhook event with it
    rows = await events(hooks)
    assert [r["event_type"] for r in rows] == ["message.retrying"]
    assert rows[0]["data"]["error"] == "421 busy"
    assert rows[0]["data"]["attempts"] == 1
    async with hooks.engine.begin() as conn:
        await delivery_repo.record_failed(
            conn,
            message_id,
            "w1",
            clock.now(),
            error="550 no",
            code=550,
            reason="permanent",
            provider="smtp",
            dead_letter=False,
        )
    assert [r["event_type"] for r in await events(hooks)] == ["message.retrying", "message.failed"]


async def _count(receiver: Receiver, n: int) -> bool:
    return len(receiver.received) >= n


async def _attempted(container: Container, event_id: uuid.UUID, n: int) -> bool:
    async with container.engine.connect() as conn:
        row = (await conn.execute(select(webhook_events).where(webhook_events.c.id == event_id))).one()
    return row.attempts >= n and row.lease_until is None


async def test_receiver_down_for_ten_minutes_then_everything_arrives_in_order(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver, clock: FakeClock
) -> None:
    await register(api, tenant, receiver, ALL_EVENTS)
    message_ids = await accept(api, tenant, 3)
    receiver.stop()  # down: connections refused
    for mid in message_ids:
        await emit(hooks, mid, "message.retrying", {"attempt": 1})
        await emit(hooks, mid, "message.retrying", {"attempt": 2})
        await emit(hooks, mid, "message.sent")
    owed = await events(hooks)
    assert len(owed) == 9
    heads = [e["id"] for e in owed if e["data"].get("attempt") == 1]
    async with webhooks_role(hooks) as dispatcher:
        # Attempts at 0 s, 5 s and 5 min fail; only the first event of each message is tried (ordering).
        for n, step in enumerate((0, RETRY_DELAYS_SECONDS[0], RETRY_DELAYS_SECONDS[1]), start=1):
            clock.advance(step)
            dispatcher.wake()
            for head in heads:
                await until(lambda h=head, k=n: _attempted(hooks, h, k), what=f"attempt {n}")
        assert all(e["attempts"] == 0 for e in await events(hooks) if e["id"] not in heads)
        clock.advance(600 - sum(RETRY_DELAYS_SECONDS[:2]))  # ten minutes after the first attempt
        receiver.start()  # back up, same port
        clock.advance(RETRY_DELAYS_SECONDS[2])  # the fourth attempt falls due
        dispatcher.wake()
        await until(lambda: _count(receiver, 9), what="all nine events")
    assert_all_verified(receiver)
    final = await events(hooks)
    assert {e["status"] for e in final} == {"delivered"}
    by_message: dict[str, list[str]] = defaultdict(list)
    for body in receiver.bodies():
        by_message[body["messageId"]].append(body["id"])
    expected: dict[str, list[str]] = defaultdict(list)
    for e in final:  # creation order
        expected[str(e["message_id"])].append(f"evt_{e['id'].hex}")
    assert by_message == expected
    assert len(receiver.received) == 9, "each event arrived once"


async def test_eight_failures_disable_the_endpoint_and_replay_still_works(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver, clock: FakeClock
) -> None:
    endpoint_id = await register(api, tenant, receiver, ["message.sent"])
    receiver.answer = lambda _: (500, b"E" * 2048, {})
    [message_id] = await accept(api, tenant, 1)
    await emit(hooks, message_id, "message.sent")
    [event] = await events(hooks)
    async with webhooks_role(hooks) as dispatcher:
        for n in range(1, MAX_ATTEMPTS + 1):
            await until(lambda k=n: _attempted(hooks, event["id"], k), what=f"attempt {n}")
            if n < MAX_ATTEMPTS:
                clock.advance(RETRY_DELAYS_SECONDS[n - 1])
                dispatcher.wake()
        got = (await api.get(f"/v1/webhooks/{endpoint_id}", headers=tenant.headers)).json()
        assert got["active"] is False
        assert got["disabledAt"] is not None
        assert "all 8 attempts" in got["disabledReason"]
        assert "HTTP 500" in got["disabledReason"]
        log = (await api.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=tenant.headers)).json()["data"]
        assert [d["attempt"] for d in log] == list(range(MAX_ATTEMPTS, 0, -1))
        assert {d["statusCode"] for d in log} == {500}
        assert all(len(d["responseBody"]) == 1024 for d in log)
        assert all(d["latencyMs"] >= 0 for d in log)
        # A new event is not owed to a disabled endpoint.
        assert await emit(hooks, message_id, "message.sent") == 0

        receiver.answer = lambda _: (204, b"", {})
        resp = await api.post(f"/v1/webhooks/{endpoint_id}/deliveries/{log[0]['id']}/replay", headers=tenant.headers)
        assert resp.status_code == 202, resp.text
        assert resp.json()["webhookId"] == log[0]["webhookId"]
        dispatcher.wake()
        await until(lambda: _count(receiver, MAX_ATTEMPTS + 1), what="the replay")
    log = (await api.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=tenant.headers)).json()["data"]
    assert log[0]["replay"] is True
    assert log[0]["success"] is True
    assert log[0]["statusCode"] == 204
    assert {r.headers["webhook-id"] for r in receiver.received} == {log[0]["webhookId"]}
    assert_all_verified(receiver)
    # Still disabled until the tenant turns it back on.
    assert (await api.get(f"/v1/webhooks/{endpoint_id}", headers=tenant.headers)).json()["active"] is False
    again = await api.put(f"/v1/webhooks/{endpoint_id}", json={"active": True}, headers=tenant.headers)
    assert again.json()["active"] is True
    assert again.json()["disabledReason"] is None
    assert again.json()["consecutiveFailures"] == 0
