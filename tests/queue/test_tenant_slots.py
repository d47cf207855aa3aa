"""The per-tenant bookkeeping, the setting that sets the cap, and the broker room a capped worker needs."""

from __future__ import annotations

import uuid
from typing import Any

from iep.bootstrap import make_queue
from iep.config import load_settings
from iep.kit.clock import SystemClock
from iep.queue.port import WEBHOOK_QUEUE, Job, Queue
from iep.queue.rabbitmq import RabbitQueue
from iep.queue.redis_bullmq import RedisQueue
from iep.queue.tenant_slots import TenantSlots, parking_room

A, B = uuid.UUID(int=1), uuid.UUID(int=2)


def job(tenant: uuid.UUID) -> Job:
    return Job(message_id=uuid.uuid4(), tenant_id=tenant)


def test_a_tenant_at_its_cap_parks_and_its_freed_slot_passes_to_its_parked_job() -> None:
    slots = TenantSlots(2, parking=2)
    assert slots.take(A)
    assert slots.take(A)
    assert not slots.take(A), "at its cap"
    assert slots.take(B), "another tenant is not"
    first, second, third = job(A), job(A), job(A)
    assert slots.park(first)
    assert slots.park(second)
    assert not slots.park(third), "the parking is full"
    assert slots.finished(A, hand_on=True) == first
    assert not slots.take(A), "the slot went to the parked job: still at its cap"
    assert slots.finished(A, hand_on=True) == second
    assert slots.finished(A, hand_on=True) is None
    assert slots.take(A), "no parked job left: the slot was freed"


def test_on_stop_the_parked_jobs_come_out_and_slots_only_free() -> None:
    slots = TenantSlots(1, parking=4)
    assert slots.take(A)
    parked = [job(A), job(A)]
    for j in parked:
        assert slots.park(j)
    assert slots.finished(A, hand_on=False) is None
    assert slots.unpark_all() == parked
    assert slots.parked == 0


def test_parking_only_where_a_cap_leaves_slots_to_others() -> None:
    assert parking_room(16, 8) == 16
    assert parking_room(16, 0) == 0, "0: no cap"
    assert parking_room(16, 16) == 0, "a cap of every slot caps nothing"
    assert parking_room(1, 1) == 0


def test_the_cap_is_half_the_concurrency_on_a_broker_and_none_on_the_fair_postgres_queue_unless_set() -> None:
    brokers = {"rabbitmq_url": "amqp://127.0.0.1:1", "redis_url": "redis://127.0.0.1:1"}
    assert load_settings(worker_concurrency=16, queue_backend="rabbitmq", **brokers).worker_tenant_cap == 8
    assert load_settings(worker_concurrency=5, queue_backend="redis", **brokers).worker_tenant_cap == 3
    assert load_settings(worker_concurrency=16, queue_backend="postgres").worker_tenant_cap == 0
    assert load_settings(worker_concurrency=16, worker_tenant_concurrency=0).worker_tenant_cap == 0
    assert load_settings(worker_concurrency=16, worker_tenant_concurrency=12).worker_tenant_cap == 12


def _queue(name: str = "mail.send", **settings: Any) -> Queue:
    built = load_settings(rabbitmq_url="amqp://127.0.0.1:1", redis_url="redis://127.0.0.1:1", **settings)
    return make_queue(built, None, "postgresql://unused", SystemClock(), "w", name)  # type: ignore[arg-type]


def test_a_broker_lets_a_capped_worker_hold_its_parked_jobs() -> None:
    """Held jobs count against a broker's prefetch: sized to the concurrency alone, a worker whose slots and
    parking are full of one tenant would be handed nothing else."""
    rabbit = _queue(queue_backend="rabbitmq", worker_concurrency=4, worker_tenant_concurrency=2)
    assert isinstance(rabbit, RabbitQueue)
    assert rabbit._prefetch == 8
    uncapped = _queue(queue_backend="rabbitmq", worker_concurrency=4, worker_tenant_concurrency=0)
    assert isinstance(uncapped, RabbitQueue)
    assert uncapped._prefetch == 4
    webhooks = _queue(WEBHOOK_QUEUE, queue_backend="rabbitmq", worker_concurrency=4, webhook_concurrency=3)
    assert isinstance(webhooks, RabbitQueue)
    assert webhooks._prefetch == 3
    redis = _queue(queue_backend="redis", worker_concurrency=4, worker_tenant_concurrency=2)
    assert isinstance(redis, RedisQueue)
    assert redis._concurrency == 8
