"""One tenant webhook attempt (F4): claim the event → sign → POST through the SSRF guard → record.

Retry schedule: 8 attempts, the first at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (about
27.6 hours in all). Every attempt is a `webhook_deliveries` row. An event that used up its attempts is `failed`;
if nothing reached the endpoint since that event was created, the endpoint is disabled with a reason the
tenant reads in `GET /v1/webhooks/{id}`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.kit.crypto import CryptoError, KeyRing
from iep.kit.ids import uuid7
from iep.observability import metrics, tracing
from iep.tenant_webhooks import repository, signing
from iep.tenant_webhooks.sender import AttemptResult, WebhookSender

log = structlog.get_logger("iep.webhooks")

# Delay before attempt n+2, after attempt n+1 failed.
RETRY_DELAYS_SECONDS = (5, 300, 1_800, 7_200, 18_000, 36_000, 36_000)
MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1
LEASE_MARGIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class WebhookDeps:
    engine: AsyncEngine
    sender: WebhookSender
    clock: Clock
    keyring: KeyRing | None
    worker_id: str
    # An attempt in flight longer than this is presumed dead and handed to another deliverer.
    lease: timedelta


def _timestamp(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def payload(row: dict[str, Any]) -> bytes:
    """Seed 003 §14's body, plus `id` (= `webhook-id`) so a receiver can de-duplicate from the body alone."""
    return orjson.dumps(
        {
            "id": signing.webhook_id(row["id"]),
            "event": row["event_type"],
            "messageId": str(row["message_id"]),
            "tenantId": str(row["tenant_id"]),
            "timestamp": _timestamp(row["created_at"]),
            "data": row["data"],
        }
    )


def retry_at(now: datetime, attempts: int) -> datetime:
    return now + timedelta(seconds=RETRY_DELAYS_SECONDS[min(attempts, len(RETRY_DELAYS_SECONDS)) - 1])


async def deliver_event(deps: WebhookDeps, event_id: uuid.UUID) -> str | None:
    """Attempt the event if it is due and next in line; returns its new status (None: nothing to do now)."""
    now = deps.clock.now()
    async with deps.engine.connect() as pooled:
        conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        row = await repository.claim_event(conn, event_id, deps.worker_id, now, now + deps.lease)
    if row is None:
        return None
    # The message's trace goes on in this role too (O1): one span per attempt, child of the message's trace.
    with tracing.tracer().start_as_current_span(
        "webhook.deliver",
        context=tracing.parent(None, row.get("trace_id")),
        kind=SpanKind.CLIENT,
        attributes={"iep.message_id": str(row["message_id"]), "iep.webhook.event": row["event_type"]},
    ) as span:
        status = await _deliver_claimed(deps, row)
        span.set_attribute("iep.webhook.status", status or "lease_lost")
        return status


async def _deliver_claimed(deps: WebhookDeps, row: dict[str, Any]) -> str | None:
    body = payload(row)
    msg_id = signing.webhook_id(row["id"])
    result = await _attempt(deps, row, body, msg_id)
    if result.status_code is not None:
        trace.get_current_span().set_attribute("http.response.status_code", result.status_code)
    done = deps.clock.now()
    disabled_reason = (
        f"disabled after all {row['max_attempts']} attempts of {msg_id} ({row['event_type']}) failed and no "
        f"delivery succeeded since {_timestamp(row['created_at'])}; last error: {result.error}"
    )
    params = {
        "event_id": row["id"],
        "owner": deps.worker_id,
        "success": result.success,
        "now": done,
        "retry_at": retry_at(done, row["attempts"]),
        "error": result.error,
        "delivery_id": uuid7(),
        "tenant_id": row["tenant_id"],
        "endpoint_id": row["endpoint_id"],
        "attempt": row["attempts"],
        "replay": row["replay"],
        "status_code": result.status_code,
        "latency_ms": result.latency_ms,
        "response_body": result.response_body,
        "disabled_reason": disabled_reason[:1000],
    }
    async with deps.engine.connect() as pooled:
        conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        status, disabled = await repository.record_attempt(conn, params)
    metrics.webhook_delivery(status)  # metrics
    bound = log.bind(
        webhook_id=msg_id,
        message_id=str(row["message_id"]),
        tenant_id=str(row["tenant_id"]),
        endpoint_id=str(row["endpoint_id"]),
        attempt=row["attempts"],
    )
    if result.success:
        bound.info("webhook_delivered", status_code=result.status_code, latency_ms=result.latency_ms)
    else:
        bound.warning("webhook_attempt_failed", status=status, error=(result.error or "")[:200])
    if disabled:
        bound.warning("webhook_endpoint_disabled", reason=disabled_reason[:300])
    return status


async def _attempt(deps: WebhookDeps, row: dict[str, Any], body: bytes, msg_id: str) -> AttemptResult:
    if deps.keyring is None:
        return AttemptResult(False, None, 0, None, "IEP_ENCRYPTION_KEY is not set: the signing secret cannot be opened")
    try:
        secret = deps.keyring.decrypt(
            row["secret_encrypted"], context=signing.secret_context(row["tenant_id"], row["endpoint_id"])
        ).decode()
    except CryptoError as exc:
        return AttemptResult(False, None, 0, None, f"the signing secret cannot be opened: {exc}")
    # The signature's timestamp is wall-clock time: receivers compare it with their own clock.
    headers = signing.headers(secret, msg_id, int(time.time()), body)
    return await deps.sender.post(row["url"], body, headers)
