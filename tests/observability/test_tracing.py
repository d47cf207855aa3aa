"""One trace per email across real role processes (O1): api → relay → worker, on every queue backend, exported
over OTLP/HTTP to a receiver on loopback that decodes the protobuf export; the same trace id in the logs, the queue
message and the message's `traceId`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from iep.bootstrap import Container
from iep.queue.models import queue_jobs
from tests.conftest import TenantKey
from tests.support import brokers
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.smtp_sink import SmtpSink, free_port
from tests.tenant_webhooks.conftest import ENCRYPTION_KEY, register
from tests.tenant_webhooks.receiver import Receiver

IEP = str(Path(sys.executable).with_name("iep"))
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def receiver() -> OtlpReceiver:
    server = OtlpReceiver().start()
    yield server  # type: ignore[misc]
    server.stop()


def _role(role: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{role}.log").open("wb") as out:
        return subprocess.Popen([IEP, "run", "--role", role], env=env, stdout=subprocess.DEVNULL, stderr=out)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _lines(path: Path) -> list[dict[str, object]]:
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


async def _ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(400):
            try:
                if (await client.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the API never became ready")


def _by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.name: s for s in spans}


@pytest.mark.parametrize("backend", ["postgres", "rabbitmq", "redis"])
async def test_one_trace_from_the_api_through_the_queue_to_the_worker(
    backend: str,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    database_url: str,
    rabbitmq_url: str,
    redis_url: str,
    receiver: OtlpReceiver,
    tmp_path: Path,
) -> None:
    if backend == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "QUEUE_BACKEND": backend,
        "RABBITMQ_URL": rabbitmq_url,
        **(
            {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": f"trace-{uuid.uuid4().hex[:8]}:"} if backend == "redis" else {}
        ),
        "PORT": str(port),
        "METRICS_PORT": "0",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "IEP_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
        "WEBHOOK_ALLOW_HTTP": "true",
    }
    base = f"http://127.0.0.1:{port}"
    procs = [_role("api", env, tmp_path), _role("relay", env, tmp_path), _role("webhooks", env, tmp_path)]
    hooks = Receiver().start()
    try:
        await _ready(base)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await register(client, tenant, hooks, ["message.sent"])
            headers = {**tenant.headers, "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
            payload = {"to": ["a@example.com"], "from": "x@product.example", "subject": "Traced", "textBody": "T"}
            accepted = await client.post("/v1/messages", json=payload, headers=headers)
            assert accepted.status_code == 202, accepted.text
            message_id = accepted.json()["messageId"]
            if backend == "postgres":  # the job itself carries the trace (the accept's span: ADR 0009)
                for _ in range(200):
                    async with container.engine.connect() as conn:
                        carried = (await conn.execute(select(queue_jobs.c.payload))).scalars().all()
                    if carried:
                        break
                    await asyncio.sleep(0.05)
                assert carried[0] is not None
                assert carried[0]["traceparent"].split("-")[1] == CALLER_TRACE
            procs.append(_role("worker", env, tmp_path))
            doc: dict[str, object] = {}
            for _ in range(400):
                doc = (await client.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
                if doc["status"] == "sent":
                    break
                await asyncio.sleep(0.05)
        assert doc["status"] == "sent"
        assert doc["traceId"] == CALLER_TRACE
        # With a broker, the relay's span sits between the accept and the send; the postgres queue's job is
        # written by the accept itself.
        hop = set() if backend == "postgres" else {"relay.publish"}
        wanted = {"POST /v1/messages", *hop, "deliver", "render", "provider.send", "webhook.deliver"}
        for _ in range(200):
            if wanted <= set(_by_name(receiver.of_trace(CALLER_TRACE))):
                break
            await asyncio.sleep(0.05)
    finally:
        _stop(procs)
        hooks.stop()

    spans = _by_name(receiver.of_trace(CALLER_TRACE))
    assert wanted <= set(spans), f"spans of the trace: {sorted(spans)}"
    api, deliver = spans["POST /v1/messages"], spans["deliver"]
    assert (api.service, deliver.service) == ("iep-api", "iep-worker")
    assert api.parent_span_id == CALLER_SPAN
    if backend == "postgres":
        assert "relay.publish" not in spans
        assert deliver.parent_span_id == api.span_id
    else:
        relay = spans["relay.publish"]
        assert relay.service == "iep-relay"
        assert relay.parent_span_id == api.span_id
        assert deliver.parent_span_id == relay.span_id
    assert spans["render"].parent_span_id == deliver.span_id
    assert spans["provider.send"].parent_span_id == deliver.span_id
    assert spans["provider.send"].attributes["iep.provider.response_code"] == 250
    # The tenant webhook for `message.sent` is delivered by the webhooks role, in the same trace.
    assert spans["webhook.deliver"].service == "iep-webhooks"
    assert spans["webhook.deliver"].attributes["http.response.status_code"] == 200
    # The same trace id in the API's line and the worker's line about this message.
    api_lines = [x for x in _lines(tmp_path / "api.log") if x.get("message_id") == message_id]
    worker_lines = [x for x in _lines(tmp_path / "worker.log") if x.get("message_id") == message_id]
    assert {x["event"] for x in api_lines} >= {"accepted"}
    assert {x["event"] for x in worker_lines} >= {"sent"}
    assert {x.get("trace_id") for x in api_lines + worker_lines} == {CALLER_TRACE}


async def test_without_a_caller_trace_the_api_starts_one(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    payload = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}
    first = (await api.post("/v1/messages", json=payload, headers=tenant.headers)).json()["messageId"]
    second = (await api.post("/v1/messages", json=payload, headers=tenant.headers)).json()["messageId"]
    one = (await api.get(f"/v1/messages/{first}", headers=tenant.headers)).json()["traceId"]
    two = (await api.get(f"/v1/messages/{second}", headers=tenant.headers)).json()["traceId"]
    assert len(one) == 32
    assert int(one, 16) != 0
    assert one != two, "each accept its own trace"


def test_without_an_exporter_spans_carry_the_ids_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace

    from iep.observability import tracing

    tracing.setup("test", None)
    monkeypatch.setattr(tracing, "_exporting", False)
    carried = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    with tracing.tracer().start_as_current_span("deliver", context=tracing.parent(carried)) as span:
        assert not span.is_recording()
        assert tracing.trace_id() == CALLER_TRACE
        onward = tracing.traceparent()
        assert onward is not None
        _version, trace_hex, span_hex, flags = onward.split("-")
        assert (trace_hex, flags) == (CALLER_TRACE, "01")
        assert span_hex not in (CALLER_SPAN, "0" * 16)
        line = tracing.log_ids(None, "info", {})
        assert line == {"trace_id": CALLER_TRACE, "span_id": span_hex}
        with tracing.tracer().start_as_current_span("render") as child:
            assert child.get_span_context().trace_id == int(CALLER_TRACE, 16)
            assert child.get_span_context().span_id != span.get_span_context().span_id
    # An unsampled caller stays unsampled; no parent at all starts a new sampled trace.
    with tracing.tracer().start_as_current_span("x", context=tracing.parent(f"00-{CALLER_TRACE}-{CALLER_SPAN}-00")):
        assert (tracing.traceparent() or "").endswith("-00")
    with tracing.tracer().start_as_current_span("root", context=None):
        assert tracing.trace_id() not in (None, CALLER_TRACE)
        assert (tracing.traceparent() or "").endswith("-01")
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_with_an_exporter_spans_are_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    from iep.observability import tracing

    tracing.setup("test", None)
    monkeypatch.setattr(tracing, "_exporting", True)
    with tracing.tracer().start_as_current_span("deliver", attributes={"iep.message_id": "m"}) as span:
        assert span.is_recording()
