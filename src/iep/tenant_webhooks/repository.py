"""All SQL of tenant webhooks. Tenant-facing reads and writes start from `iep.kit.scoping`; the dispatcher and
the deliverer act on event ids taken from the queue, across tenants, as the send step does for messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, or_, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.scoping import scoped_delete, scoped_select, scoped_update
from iep.tenant_webhooks.models import webhook_deliveries, webhook_endpoints, webhook_events

ENDPOINT_COLUMNS = (
    webhook_endpoints.c.id,
    webhook_endpoints.c.url,
    webhook_endpoints.c.events,
    webhook_endpoints.c.description,
    webhook_endpoints.c.active,
    webhook_endpoints.c.disabled_at,
    webhook_endpoints.c.disabled_reason,
    webhook_endpoints.c.consecutive_failures,
    webhook_endpoints.c.last_success_at,
    webhook_endpoints.c.created_at,
    webhook_endpoints.c.updated_at,
)


def emit_sql(source: str) -> str:
    """INSERT one pending event per active endpoint of the message's tenant that wants `:wh_event`.

    `source` is a relation with the message's `id, tenant_id, "to", subject, provider, attempts`: the
    `messages` row itself, or the RETURNING of the status update it rides along with (one statement, so the
    event commits with the status change or not at all). Binds `:wh_event`, `:wh_data` (JSONB) and `:now`.
    """
    return f"""
INSERT INTO webhook_events (id, tenant_id, endpoint_id, message_id, event_type, data, next_attempt_at, created_at)
SELECT gen_random_uuid(), e.tenant_id, e.id, s.id, CAST(:wh_event AS text),
  jsonb_build_object('to', to_jsonb(s."to"), 'subject', s.subject, 'provider', s.provider, 'attempts', s.attempts)
    || CAST(:wh_data AS jsonb),
  :now, :now
FROM {source} s JOIN webhook_endpoints e ON e.tenant_id = s.tenant_id
WHERE e.active AND CAST(:wh_event AS text) = ANY(e.events)
"""  # noqa: S608 - only constant SQL fragments are interpolated, never input


EMIT_BINDS = (bindparam("wh_data", type_=JSONB),)

_EMIT = text(
    emit_sql(
        """(SELECT id, tenant_id, "to", coalesce(rendered_subject, subject) AS subject, provider, attempts
FROM messages WHERE id = :wh_message AND tenant_id = :wh_tenant)"""
    )
).bindparams(
    *EMIT_BINDS,
    bindparam("wh_message", type_=UUID(as_uuid=True)),
    bindparam("wh_tenant", type_=UUID(as_uuid=True)),
)


async def insert_events(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> int:
    result = await conn.execute(
        _EMIT, {"wh_tenant": tenant_id, "wh_message": message_id, "wh_event": event_type, "wh_data": data, "now": now}
    )
    return int(result.rowcount or 0)


# ── endpoints (tenant-facing) ────────────────────────────────────────────────────────────────────────────────


async def insert_endpoint(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(webhook_endpoints).values(**values))


async def list_endpoints(conn: AsyncConnection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    stmt = scoped_select(webhook_endpoints, tenant_id, *ENDPOINT_COLUMNS).order_by(webhook_endpoints.c.created_at)
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def get_endpoint(conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> dict[str, Any] | None:
    stmt = scoped_select(webhook_endpoints, tenant_id, *ENDPOINT_COLUMNS).where(webhook_endpoints.c.id == endpoint_id)
    row = (await conn.execute(stmt)).one_or_none()
    return dict(row._mapping) if row else None


async def update_endpoint(
    conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    stmt = (
        scoped_update(webhook_endpoints, tenant_id)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(**values)
        .returning(webhook_endpoints.c.id)
    )
    return (await conn.execute(stmt)).one_or_none() is not None


async def delete_endpoint(conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    stmt = (
        scoped_delete(webhook_endpoints, tenant_id)
        .where(webhook_endpoints.c.id == endpoint_id)
        .returning(webhook_endpoints.c.id)
    )
    return (await conn.execute(stmt)).one_or_none() is not None


async def list_deliveries(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[dict[str, Any]]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    d, ev = webhook_deliveries, webhook_events
    stmt = (
        scoped_select(
            d,
            tenant_id,
            d.c.id,
            d.c.event_id,
            d.c.attempt,
            d.c.replay,
            d.c.success,
            d.c.status_code,
            d.c.latency_ms,
            d.c.response_body,
            d.c.error,
            d.c.created_at,
            ev.c.event_type,
            ev.c.message_id,
        )
        .join(ev, ev.c.id == d.c.event_id)
        .where(d.c.endpoint_id == endpoint_id)
        .order_by(d.c.created_at.desc(), d.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(d.c.created_at, d.c.id) < tuple_(*after))
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def replay(
    conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, now: datetime
) -> dict[str, Any] | None:
    """Make the delivery's event due now for one more attempt; None when the tenant has no such delivery.

    The returned `replayed` is False when the event is being attempted right now (its lease is live).
    """
    d, ev = webhook_deliveries, webhook_events
    found = (
        await conn.execute(
            scoped_select(d, tenant_id, d.c.event_id).where(d.c.id == delivery_id, d.c.endpoint_id == endpoint_id)
        )
    ).one_or_none()
    if found is None:
        return None
    stmt = (
        scoped_update(ev, tenant_id)
        .where(ev.c.id == found.event_id, or_(ev.c.lease_until.is_(None), ev.c.lease_until < now))
        .values(
            status="pending",
            next_attempt_at=now,
            published_at=None,
            max_attempts=ev.c.attempts + 1,
            replay=True,
        )
        .returning(ev.c.id)
    )
    done = (await conn.execute(stmt)).one_or_none()
    return {"event_id": found.event_id, "replayed": done is not None}


# ── dispatcher and deliverer (cross-tenant, by event id) ────────────────────────────────────────────────────

# An event is next in line when no earlier event of the same message is still pending for the same endpoint.
_HEAD_OF_LINE = """NOT EXISTS (
    SELECT 1 FROM webhook_events p
    WHERE p.endpoint_id = ev.endpoint_id AND p.message_id = ev.message_id AND p.status = 'pending'
      AND p.seq < ev.seq)"""

# Due, next in line, its endpoint enabled (or a manual replay), and owed to the queue: never handed over, handed
# over `stale` ago without anyone taking it (a broker lost the job), or abandoned by a deliverer that died
# (its lease ran out). SKIP LOCKED: several webhooks roles never hand the same event over twice in one go.
_CLAIM_DUE = text(
    f"""
WITH due AS (
  SELECT ev.id FROM webhook_events ev JOIN webhook_endpoints e ON e.id = ev.endpoint_id
  WHERE ev.status = 'pending' AND ev.next_attempt_at <= :now
    AND (ev.lease_until IS NULL OR ev.lease_until < :now)
    AND (ev.published_at IS NULL OR ev.published_at < :stale OR ev.lease_until IS NOT NULL)
    AND (e.active OR ev.replay)
    AND {_HEAD_OF_LINE}
  ORDER BY ev.next_attempt_at, ev.seq
  LIMIT :limit
  FOR UPDATE OF ev SKIP LOCKED
)
UPDATE webhook_events w SET published_at = :now, lease_owner = NULL, lease_until = NULL
FROM due WHERE w.id = due.id
RETURNING w.id, w.tenant_id
"""  # noqa: S608 - only constant SQL fragments are interpolated, never input
)


async def claim_due(
    conn: AsyncConnection, now: datetime, stale: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    rows = await conn.execute(_CLAIM_DUE, {"now": now, "stale": stale, "limit": limit})
    return [(r.id, r.tenant_id) for r in rows]


_NEXT_DUE = text("SELECT min(next_attempt_at) FROM webhook_events WHERE status = 'pending' AND published_at IS NULL")


async def next_due(conn: AsyncConnection) -> datetime | None:
    """The earliest time an event not yet handed to the queue falls due, across tenants."""
    value: datetime | None = (await conn.execute(_NEXT_DUE)).scalar()
    return value


_CLAIM_EVENT = text(
    f"""
UPDATE webhook_events ev SET lease_owner = :owner, lease_until = :lease_until, attempts = ev.attempts + 1
FROM webhook_endpoints e
WHERE ev.id = :id AND e.id = ev.endpoint_id AND ev.status = 'pending' AND ev.next_attempt_at <= :now
  AND (ev.lease_until IS NULL OR ev.lease_until < :now) AND (e.active OR ev.replay)
  AND {_HEAD_OF_LINE}
RETURNING ev.id, ev.tenant_id, ev.endpoint_id, ev.message_id, ev.event_type, ev.data, ev.created_at, ev.attempts,
  ev.max_attempts, ev.replay, e.url, e.secret_encrypted,
  (SELECT m.trace_id FROM messages m WHERE m.id = ev.message_id) AS trace_id
"""  # noqa: S608 - only constant SQL fragments are interpolated, never input
).bindparams(bindparam("id", type_=UUID(as_uuid=True)))


async def claim_event(
    conn: AsyncConnection, event_id: uuid.UUID, owner: str, now: datetime, lease_until: datetime
) -> dict[str, Any] | None:
    row = (
        await conn.execute(_CLAIM_EVENT, {"id": event_id, "owner": owner, "now": now, "lease_until": lease_until})
    ).one_or_none()
    return dict(row._mapping) if row else None


# The attempt's outcome in one statement: the event moves on (delivered, due again, or given up), the attempt is
# logged, and the endpoint's failure run is updated — disabling it when an event gave up after all its attempts
# and nothing reached the endpoint since that event was created. A replay's failure never disables.
_RECORD = text(
    """
WITH ev AS (
  UPDATE webhook_events SET
    status = CASE WHEN :success THEN 'delivered' WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
    delivered_at = CASE WHEN :success THEN CAST(:now AS timestamptz) ELSE delivered_at END,
    next_attempt_at = CASE WHEN :success OR attempts >= max_attempts THEN next_attempt_at
                           ELSE CAST(:retry_at AS timestamptz) END,
    published_at = NULL, lease_owner = NULL, lease_until = NULL, replay = false, last_error = :error
  WHERE id = :event_id AND lease_owner = :owner
  RETURNING id, endpoint_id, status, created_at
), logged AS (
  INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, attempt, replay, success, status_code,
    latency_ms, response_body, error, created_at)
  VALUES (:delivery_id, :tenant_id, :endpoint_id, :event_id, :attempt, :replay, :success, :status_code,
    :latency_ms, :response_body, :error, :now)
), ep AS (
  UPDATE webhook_endpoints e SET
    consecutive_failures = CASE WHEN :success THEN 0 ELSE e.consecutive_failures + 1 END,
    failing_since = CASE WHEN :success THEN NULL ELSE coalesce(e.failing_since, CAST(:now AS timestamptz)) END,
    last_success_at = CASE WHEN :success THEN CAST(:now AS timestamptz) ELSE e.last_success_at END,
    active = CASE WHEN d.disable THEN false ELSE e.active END,
    disabled_at = CASE WHEN d.disable THEN CAST(:now AS timestamptz) ELSE e.disabled_at END,
    disabled_reason = CASE WHEN d.disable THEN :disabled_reason ELSE e.disabled_reason END,
    updated_at = :now
  FROM (
    SELECT ev.endpoint_id, (NOT :success AND NOT :replay AND ev.status = 'failed' AND x.active
      AND (x.last_success_at IS NULL OR x.last_success_at < ev.created_at)) AS disable
    FROM ev JOIN webhook_endpoints x ON x.id = ev.endpoint_id
  ) d
  WHERE e.id = d.endpoint_id AND (:success OR NOT :replay)
  RETURNING d.disable
)
SELECT ev.status, coalesce((SELECT bool_or(disable) FROM ep), false) AS disabled FROM ev
"""
).bindparams(
    bindparam("event_id", type_=UUID(as_uuid=True)),
    bindparam("delivery_id", type_=UUID(as_uuid=True)),
    bindparam("tenant_id", type_=UUID(as_uuid=True)),
    bindparam("endpoint_id", type_=UUID(as_uuid=True)),
)


async def record_attempt(conn: AsyncConnection, params: dict[str, Any]) -> tuple[str | None, bool]:
    """(the event's new status, whether the endpoint was disabled now); (None, False) if the lease was lost."""
    # The attempt is logged either way: when another deliverer took the event over meanwhile, it still happened.
    row = (await conn.execute(_RECORD, params)).one_or_none()
    if row is None:
        return None, False
    return row.status, bool(row.disabled)
