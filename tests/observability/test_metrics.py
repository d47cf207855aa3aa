"""/metrics: outbox lag and queue depth, read from the database and the queue at scrape time."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from tests.conftest import TenantKey
from tests.support.pipeline import relay_all

PAYLOAD = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}


async def _scrape(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await api.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


async def test_outbox_lag_and_queue_depth(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    container.accepts_into_queue = False  # outbox rows for the relay, as a broker backend has them (ADR 0009)
    for _ in range(3):
        assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    clock.advance(7)
    before = await _scrape(api)
    assert before[("iep_outbox_pending", ())] == 3
    assert before[("iep_outbox_lag_seconds", ())] == 7.0
    assert before[("iep_queue_up", ())] == 1

    await relay_all(container)
    after = await _scrape(api)
    assert after[("iep_outbox_pending", ())] == 0
    assert after[("iep_outbox_lag_seconds", ())] == 0
    # Seed 003's {queue} label beside the {backend, state} ones queries were written for.
    send = (("backend", "postgres"), ("queue", "mail.send"))
    assert after[("iep_queue_depth", (*send, ("state", "ready")))] == 3
    assert after[("iep_queue_depth", (*send, ("state", "dead")))] == 0
    assert after[("iep_queue_depth", (("backend", "postgres"), ("queue", "mail.webhook"), ("state", "ready")))] == 0
