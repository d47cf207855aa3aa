"""Seed 003 §16's metrics, counted where outcomes are recorded and served by /metrics: their names, their labels
(tenant by slug), and the provider error types."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.observability import metrics
from iep.providers.base import PermanentProviderError, ProviderError, TransientProviderError
from iep.providers.smtp import SmtpProvider
from tests.conftest import TenantKey, make_tenant
from tests.limits.conftest import limited_tenant
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink, free_port

PAYLOAD = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(api: httpx.AsyncClient) -> Samples:
    resp = await api.get("/metrics")
    assert resp.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _label_names(samples: Samples, name: str) -> set[frozenset[str]]:
    return {frozenset(k for k, _ in labels) for n, labels in samples if n == name}


async def _accept(api: httpx.AsyncClient, tenant: TenantKey, n: int) -> None:
    for _ in range(n):
        assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202


async def test_sent_messages_are_counted_by_status_tenant_and_provider_with_their_latency(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    before = await _scrape(api)
    await _accept(api, tenant, 3)
    clock.advance(4)  # accept → provider accepted: 4 s on the fake clock
    assert await drain(container) == 3
    after = await _scrape(api)

    sent = {"status": "sent", "tenant": "acme", "provider": "smtp"}
    assert _value(after, "iep_messages_total", **sent) - _value(before, "iep_messages_total", **sent) == 3
    count = "iep_message_duration_seconds_count"
    assert _value(after, count, provider="smtp") - _value(before, count, provider="smtp") == 3
    # All three took 4 s: inside the 5 s bucket, not the 2.5 s one.
    bucket = "iep_message_duration_seconds_bucket"
    five = _value(after, bucket, provider="smtp", le="5.0") - _value(before, bucket, provider="smtp", le="5.0")
    under = _value(after, bucket, provider="smtp", le="2.5") - _value(before, bucket, provider="smtp", le="2.5")
    assert (five, under) == (3, 0)
    # The inline body went through the Handlebars engine's render timer.
    assert _value(after, "iep_render_duration_seconds_count", engine="handlebars") >= 3


async def test_every_seed_metric_is_served_with_its_labels(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock, sink: SmtpSink
) -> None:
    limited = await limited_tenant(container, "metered", clock, max_per_minute=1)
    await _accept(api, limited, 1)
    refused = await api.post("/v1/messages", json=PAYLOAD, headers=limited.headers)
    assert refused.status_code == 429
    sink.handler.data_replies.append("550 5.1.1 no such user")
    await _accept(api, tenant, 1)
    await drain(container)
    samples = await _scrape(api)

    assert {"status", "tenant", "provider"} <= set().union(*_label_names(samples, "iep_messages_total"))
    assert _label_names(samples, "iep_message_duration_seconds_count") == {frozenset({"provider"})}
    assert {"queue", "backend", "state"} in [set(x) for x in _label_names(samples, "iep_queue_depth")]
    assert _label_names(samples, "iep_provider_errors_total") >= {frozenset({"provider", "error_type"})}
    assert _value(samples, "iep_rate_limit_hits_total", tenant="metered", kind="minute") == 1
    # Process figures come with every scrape.
    assert any(name == "process_cpu_seconds_total" for name, _ in samples)
    # The tenant label is the slug, never a recipient.
    tenants = {dict(labels).get("tenant") for name, labels in samples if name == "iep_messages_total"}
    assert "acme" in tenants
    assert not any("@" in (t or "") for t in tenants)


async def test_a_refusal_counts_a_permanent_provider_error_and_a_failed_message(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    before = await _scrape(api)
    sink.handler.data_replies.append("550 5.1.1 no such user")
    await _accept(api, tenant, 1)
    await drain(container)
    after = await _scrape(api)
    errors = {"provider": "smtp", "error_type": "permanent"}
    assert (
        _value(after, "iep_provider_errors_total", **errors) - _value(before, "iep_provider_errors_total", **errors)
        == 1
    )
    failed = {"status": "failed", "tenant": "acme", "provider": "smtp"}
    assert _value(after, "iep_messages_total", **failed) - _value(before, "iep_messages_total", **failed) == 1


async def test_a_try_later_counts_a_transient_error_and_a_scheduled_retry(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    before = await _scrape(api)
    sink.handler.data_replies.append("451 4.3.0 try again later")
    await _accept(api, tenant, 1)
    await drain(container)
    after = await _scrape(api)
    errors = {"provider": "smtp", "error_type": "transient"}
    assert (
        _value(after, "iep_provider_errors_total", **errors) - _value(before, "iep_provider_errors_total", **errors)
        == 1
    )
    retry = {"status": "retry_scheduled", "tenant": "acme", "provider": "smtp"}
    assert _value(after, "iep_messages_total", **retry) - _value(before, "iep_messages_total", **retry) == 1


async def test_an_unreachable_provider_counts_a_connection_error(
    api: httpx.AsyncClient, container: Container, clock: FakeClock
) -> None:
    # A provider on a loopback port nobody listens on: refused at connect.
    container.providers["smtp"] = SmtpProvider(
        host="127.0.0.1",
        port=free_port(),
        username=None,
        password=None,
        tls="none",
        timeout=2,
        pool_size=1,
        message_id_domain="iep.test",
    )
    tenant = await make_tenant(container, "refused")
    before = await _scrape(api)
    await _accept(api, tenant, 1)
    await drain(container)
    after = await _scrape(api)
    errors = {"provider": "smtp", "error_type": "connection"}
    assert (
        _value(after, "iep_provider_errors_total", **errors) - _value(before, "iep_provider_errors_total", **errors)
        == 1
    )


def _raised(error: ProviderError, cause: BaseException | None) -> ProviderError:
    try:
        raise error from cause
    except ProviderError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        (TransientProviderError("slow down", code=429), None, "rate_limited"),
        (PermanentProviderError("bad key", code=401), None, "auth"),
        (PermanentProviderError("535 auth failed", code=535), None, "auth"),
        (TransientProviderError("timed out"), TimeoutError(), "timeout"),
        (TransientProviderError("refused"), ConnectionRefusedError(), "connection"),
        (TransientProviderError("451 later", code=451), None, "transient"),
        (PermanentProviderError("550 no such user", code=550), None, "permanent"),
    ],
)
def test_error_types_are_a_bounded_set(error: ProviderError, cause: BaseException | None, expected: str) -> None:
    kind = metrics.error_type(_raised(error, cause))
    assert kind == expected
    assert kind in metrics.ERROR_TYPES
