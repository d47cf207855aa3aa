"""One trace per email across every role (O1), with OpenTelemetry.

The API's span (joined to the caller's `traceparent` when it sends one) is the root. Its W3C `traceparent`
rides inside the outbox row's payload; the relay continues it with a span of its own and puts that span's
`traceparent` into the queue message (the job's payload, on every backend); the worker continues from there
(`deliver`, with `render` and `provider.send` as children). The trace id is stored on the message and answered
as `traceId`; every log line written inside a span carries `trace_id` and `span_id`.

Spans are always made, so ids exist with or without a collector; they leave the process only when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set, through the SDK's batch processor (its own thread: the event loop never
waits for an export). Until then a span is only its ids (`_IdsOnlyTracer`): an SDK span records attributes,
times and a readable copy at its end for processors that are not there, a few per cent of a worker's CPU.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_IDS = RandomIdGenerator()
_provider: TracerProvider | None = None
_exporting = False
_tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None


class _IdsOnlyTracer(trace.Tracer):
    """The SDK's tracer once spans are exported; before that, spans that carry ids and nothing else: the
    parent's trace id and flags (a new sampled trace without a parent) and a new span id, so logs, `traceId`
    and the `traceparent` handed to the next role are the same as with the SDK."""

    def __init__(self, sdk: trace.Tracer) -> None:
        self._sdk = sdk

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        if _exporting:
            return self._sdk.start_span(
                name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
            )
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
        else:
            trace_id, flags, state = _IDS.generate_trace_id(), TraceFlags(TraceFlags.SAMPLED), None
        return NonRecordingSpan(
            SpanContext(trace_id, _IDS.generate_span_id(), is_remote=False, trace_flags=flags, trace_state=state)
        )

    # The API's own decorator (`_agnosticcontextmanager`) is private; a plain context manager is the same protocol.
    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Any = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        if not span.is_recording():
            # Nothing to end, record or set a status on: only the span made current (`use_span` costs three times this).
            token = otel_context.attach(trace.set_span_in_context(span))
            try:
                yield span
            finally:
                otel_context.detach(token)
            return
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class _Provider(TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _IdsOnlyTracer(super().get_tracer(*args, **kwargs))


def setup(role: str, endpoint: str | None) -> None:
    """Install the process's tracer provider once; export to `endpoint` (OTLP over HTTP) when given."""
    global _provider, _exporting
    if _provider is None:
        name = role if role.startswith("iep") else f"iep-{role}"  # `iep-worker`, as the role's connections say
        _provider = _Provider(resource=Resource.create({"service.name": name, "service.namespace": "iep"}))
        trace.set_tracer_provider(_provider)
    if endpoint and not _exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
        _exporting = True


def shutdown() -> None:
    """Export what is still queued before the process ends."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def tracer() -> trace.Tracer:
    # `get_tracer` builds a new tracer (and its scope, through a deprecation shim) on every call: three per email.
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer("iep"))
    return _tracer[1]


def traceparent() -> str | None:
    """The current span's W3C `traceparent`, to carry it to the next role."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def trace_id() -> str | None:
    """The current trace's id, 32 hex digits (what the message stores and the API answers as `traceId`)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def parent(carried: str | None, trace_id_hex: str | None = None) -> Context | None:
    """The context a role continues: the carried `traceparent`, else the message's trace id (work re-queued
    from the database carries none), else None (a new trace)."""
    if carried:
        return _PROPAGATOR.extract({"traceparent": carried})
    if trace_id_hex:
        try:
            span = SpanContext(
                trace_id=int(trace_id_hex, 16),
                span_id=int.from_bytes(secrets.token_bytes(8), "big") or 1,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        except ValueError:
            return None
        return trace.set_span_in_context(NonRecordingSpan(span))
    return None


def log_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: `trace_id` and `span_id` of the span the line is written in."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event
