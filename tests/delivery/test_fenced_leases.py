"""Fenced leases: a send that outlasts the lease keeps its claim, and a claim that was lost never records (D6)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from iep.bootstrap import Container
from iep.delivery import repository
from iep.delivery.batches import SendBatches
from iep.delivery.leases import LeaseKeeper
from iep.delivery.tasks import DeliveryDeps, Outcome, deliver_message
from iep.kit.clock import FakeClock
from iep.messages.models import events, messages
from tests.conftest import TenantKey
from tests.support.pipeline import relay_all
from tests.support.smtp_sink import SmtpSink

SMTP_POOL = 4  # the connections of the container's SMTP provider (tests/conftest.py)
PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


async def _accepted(api: httpx.AsyncClient, tenant: TenantKey, container: Container) -> uuid.UUID:
    response = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    await relay_all(container)
    return uuid.UUID(response.json()["messageId"])


async def _event_types(container: Container, mid: uuid.UUID) -> list[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(select(events.c.type).where(events.c.message_id == mid).order_by(events.c.id))
        return [r[0] for r in rows]


def _worker(container: Container, name: str, *, renew: bool) -> DeliveryDeps:
    lease = timedelta(seconds=container.settings.worker_lease_seconds)
    keeper = LeaseKeeper(container.engine, container.clock, owner=name, lease=lease, tick_seconds=0.05)
    batches = SendBatches(container.driver, container.clock, owner=name, lease=lease)
    return dataclasses.replace(
        container.delivery_deps(), worker_id=name, leases=keeper if renew else None, batches=batches
    )


async def _in_data(sink: SmtpSink, container: Container, mid: uuid.UUID) -> None:
    for _ in range(200):
        async with container.engine.connect() as conn:
            status = (await conn.execute(select(messages.c.status).where(messages.c.id == mid))).scalar_one()
        if status == "processing":
            await asyncio.sleep(0.2)  # the send is in the server's (slow) DATA now
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the first worker never claimed the message")


async def _outlast_the_lease(clock: FakeClock, lease: float) -> None:
    """Time passes in steps, each short enough for a renewal to land before the lease could run out."""
    for _ in range(5):
        clock.advance(lease / 4)
        await asyncio.sleep(0.15)


async def test_a_send_stalled_past_the_lease_is_not_taken_over_and_sends_once(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    mid = await _accepted(api, tenant, container)
    first, second = _worker(container, "worker-a", renew=True), _worker(container, "worker-b", renew=True)
    sink.handler.data_delay = 2.0
    sending = asyncio.create_task(deliver_message(first, mid))
    await _in_data(sink, container, mid)
    await _outlast_the_lease(clock, container.settings.worker_lease_seconds)
    # The second worker finds the claim renewed: it waits for the lease's end instead of taking over.
    assert (await deliver_message(second, mid)).outcome is Outcome.RETRY
    assert (await sending).outcome is Outcome.DONE
    assert sink.handler.ids() == [str(mid)]
    assert await _event_types(container, mid) == ["queued", "processing", "sent"]
    assert first.leases is not None
    assert second.leases is not None
    await first.leases.close()
    await second.leases.close()


async def test_without_renewal_the_takeover_sends_again_and_the_late_record_is_refused(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    """The same run with renewal off: what the test above guards against happens, and the fence still holds."""
    mid = await _accepted(api, tenant, container)
    first, second = _worker(container, "worker-a", renew=False), _worker(container, "worker-b", renew=False)
    sink.handler.data_delay = 2.0
    sending = asyncio.create_task(deliver_message(first, mid))
    await _in_data(sink, container, mid)
    await _outlast_the_lease(clock, container.settings.worker_lease_seconds)
    sink.handler.data_delay = 0
    assert (await deliver_message(second, mid)).outcome is Outcome.DONE  # took over and sent
    assert (await sending).outcome is Outcome.DONE  # its send went out too, but its record was refused
    assert sink.handler.ids() == [str(mid), str(mid)]
    assert await _event_types(container, mid) == ["queued", "processing", "ambiguous", "processing", "sent"]


async def test_a_stale_claims_records_are_refused_by_the_fence(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    mid = await _accepted(api, tenant, container)
    lease = timedelta(seconds=60)
    async with container.engine.connect() as pooled:
        conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        stale = await repository.claim(conn, mid, "worker-a", clock.now(), lease)
        assert stale is not None
        clock.advance(61)
        fresh = await repository.claim(conn, mid, "worker-b", clock.now(), lease)
        assert fresh is not None
        assert fresh["attempts"] == stale["attempts"] + 1

        def sent(fence: int) -> dict[str, object]:
            return {"provider": "smtp", "provider_message_id": f"p-{fence}", "response": "250", "fence": fence,
                    "rendered": ("S", None, "T")}  # fmt: skip

        assert not await repository.record_sent(conn, mid, clock.now(), **sent(stale["attempts"]))  # type: ignore[arg-type]
        assert await repository.renew_leases(conn, [(mid, stale["attempts"])], "worker-a", clock.now()) == set()
        assert await repository.record_sent(conn, mid, clock.now(), **sent(fresh["attempts"]))  # type: ignore[arg-type]
        row = (
            await conn.execute(select(messages.c.status, messages.c.provider_msg_id).where(messages.c.id == mid))
        ).one()
    assert tuple(row) == ("sent", f"p-{fresh['attempts']}")
    assert (await _event_types(container, mid)).count("sent") == 1


async def test_a_claim_lost_while_its_send_waits_for_a_connection_never_sends(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    """Every pooled SMTP connection busy in a slow DATA while a claim, held when its send began, is taken over:
    once a connection is free the send is called off. The look at the claim comes after the wait, not before."""
    busy = [await _accepted(api, tenant, container) for _ in range(SMTP_POOL)]
    mid = await _accepted(api, tenant, container)
    deps = _worker(container, "worker-a", renew=True)
    assert deps.leases is not None
    lease = timedelta(seconds=container.settings.worker_lease_seconds)
    sink.handler.data_delay = 2.0
    blockers = [asyncio.create_task(deliver_message(deps, m)) for m in busy]
    for m in busy:
        await _in_data(sink, container, m)
    waiting = asyncio.create_task(deliver_message(deps, mid))
    await _in_data(sink, container, mid)  # claimed, and queued for a connection
    async with container.engine.connect() as pooled:
        conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        # As if worker-a had stalled past its lease: worker-b takes the message over.
        assert await repository.claim(conn, mid, "worker-b", clock.now() + 2 * lease, lease) is not None
    clock.advance((lease * 3 / 4).total_seconds())  # worker-a's next renewal is due, and finds the claim gone
    await asyncio.sleep(0.3)
    assert {d.outcome for d in await asyncio.gather(*blockers)} == {Outcome.DONE}
    assert (await waiting).outcome is Outcome.RETRY
    assert sorted(sink.handler.ids()) == sorted(map(str, busy))
    assert await _event_types(container, mid) == ["queued", "processing", "ambiguous", "processing"]
    await deps.leases.close()


async def test_a_claim_lost_before_the_provider_call_never_sends(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    mid = await _accepted(api, tenant, container)
    deps = _worker(container, "worker-a", renew=True)
    assert deps.leases is not None
    original = deps.leases.hold

    def hold_then_lose(message_id: uuid.UUID, fence: int, until: object) -> None:
        original(message_id, fence, clock.now())  # as if the renewal had failed until the lease ran out

    deps.leases.hold = hold_then_lose  # type: ignore[method-assign]
    decision = await deliver_message(deps, mid)
    assert decision.outcome is Outcome.RETRY
    assert sink.handler.ids() == []
    await deps.leases.close()
