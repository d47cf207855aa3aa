"""All SQL of the messages API. Tenant-owned reads start from `iep.kit.scoping`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Boolean, Text, bindparam, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.driver import Executor, fetch, fetchmany
from iep.kit.ids import uuid7
from iep.kit.scoping import scoped_select, scoped_update
from iep.messages.models import attachments, events, messages
from iep.messages.status import CANCELABLE, RETRYABLE, Status
from iep.outbox.models import outbox
from iep.queue.port import SEND_QUEUE

SEND_TOPIC = "mail.send"
PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}

# Message, `queued` event and outbox row in one statement: one round trip, one transaction (D4, SPEC B2). With
# the postgres queue the job row itself takes the outbox row's place (`into_queue`, ADR 0009): the same commit,
# without the relay's hop.
# The suppression check rides along (expired entries do not count); the idempotency conflict makes the
# statement insert nothing.
_ACCEPT = text(
    """
WITH sup AS (
  SELECT coalesce(array_agg(s.email ORDER BY s.email), '{}'::text[]) AS emails
  FROM suppression_list s WHERE s.tenant_id = :tenant_id AND s.email = ANY(:recipients_lower)
    AND (s.expires_at IS NULL OR s.expires_at > :now)
), m AS (
  INSERT INTO messages (id, tenant_id, "to", cc, bcc, from_email, from_name, reply_to, subject, html_body,
    text_body, variables, template, metadata, tags, headers, status, priority, max_attempts, idempotency_key,
    request_hash, suppressed_recipients, trace_id, scheduled_at, next_attempt_at, created_at, updated_at, recipients)
  SELECT :id, :tenant_id, :to, :cc, :bcc, :from_email, :from_name, :reply_to, :subject, :html_body,
    :text_body, :variables, :template, :metadata, :tags, :headers, :status, :priority, :max_attempts, :idempotency_key,
    :request_hash, sup.emails, :trace_id, :scheduled_at, :available_at, :now, :now, :recipients_lower
  FROM sup
  ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id, status, suppressed_recipients
), e AS (
  INSERT INTO events (id, message_id, type, payload, created_at)
  SELECT :event_id, m.id, m.status, NULL, :now FROM m
), a AS (
  INSERT INTO attachments (id, message_id, filename, content_type, size_bytes, storage_key, content_id, created_at)
  SELECT x.id, m.id, x.filename, x.content_type, x.size_bytes, x.storage_key, x.content_id, :now
  FROM m, jsonb_to_recordset(:attachments) AS x(id uuid, filename text, content_type text, size_bytes int,
    storage_key text, content_id text)
), o AS (
  INSERT INTO outbox (topic, message_id, tenant_id, priority, available_at, created_at, payload)
  SELECT :topic, m.id, :tenant_id, :priority_rank, :available_at, :now, :outbox_payload FROM m WHERE NOT :into_queue
), j AS (
  INSERT INTO queue_jobs (queue, message_id, tenant_id, priority, available_at, created_at, payload)
  SELECT :queue, m.id, :tenant_id, :priority_rank, :available_at, :now, :outbox_payload FROM m WHERE :into_queue
)
SELECT m.id, m.status, m.suppressed_recipients,
  pg_notify(CASE WHEN :into_queue THEN 'iep_jobs' ELSE 'iep_outbox' END, '') IS NULL AS _n FROM m
"""
).bindparams(
    bindparam("into_queue", type_=Boolean),
    bindparam("id", type_=UUID(as_uuid=True)),
    bindparam("event_id", type_=UUID(as_uuid=True)),
    bindparam("tenant_id", type_=UUID(as_uuid=True)),
    bindparam("to", type_=ARRAY(Text)),
    bindparam("cc", type_=ARRAY(Text)),
    bindparam("bcc", type_=ARRAY(Text)),
    bindparam("tags", type_=ARRAY(Text)),
    bindparam("recipients_lower", type_=ARRAY(Text)),
    bindparam("variables", type_=JSONB),
    bindparam("metadata", type_=JSONB),
    bindparam("headers", type_=JSONB),
    bindparam("attachments", type_=JSONB),
    bindparam("outbox_payload", type_=JSONB),
)


# What a batch inserted, by primary key only; each row's tenant is checked against the batch's in Python. Any
# tenant condition in SQL let the planner walk the tenant's whole (tenant_id, status) index per batch (joined
# with unnest(), or ANDed into a bitmap): a scan that grew with the table (accepts fell from 1,500 to 900 req/s).
_INSERTED = (
    text("SELECT m.id, m.tenant_id, m.status, m.suppressed_recipients FROM messages m WHERE m.id = ANY(:ids)")
    .bindparams(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))))
    .columns(messages.c.id, messages.c.tenant_id, messages.c.status, messages.c.suppressed_recipients)
)


@dataclass(frozen=True, slots=True)
class NewMessage:
    tenant_id: uuid.UUID
    to: list[str]
    cc: list[str]
    bcc: list[str]
    from_email: str
    from_name: str | None
    reply_to: str | None
    subject: str
    html_body: str | None
    text_body: str | None
    variables: dict[str, Any] | None
    metadata: dict[str, Any] | None
    tags: list[str]
    headers: dict[str, str] | None
    priority: str
    max_attempts: int
    idempotency_key: str | None
    request_hash: str
    trace_id: str | None
    scheduled_at: datetime | None
    # The accept's W3C traceparent, carried through the outbox to the relay and on to the worker (O1).
    traceparent: str | None = None
    # Set when attachments were stored first under keys that name the message (D-4).
    id: uuid.UUID | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    template: str | None = None


def accept_params(msg: NewMessage, now: datetime, *, into_queue: bool = False) -> dict[str, Any]:
    """The bind parameters of `_ACCEPT` for one message, with fresh ids.

    `into_queue`: the postgres queue backend's job is written in place of the outbox row (ADR 0009).
    """
    status = Status.SCHEDULED if msg.scheduled_at and msg.scheduled_at > now else Status.QUEUED
    available_at = msg.scheduled_at if status is Status.SCHEDULED else now
    return {
        "id": msg.id or uuid7(),
        "event_id": uuid7(),
        "attachments": [{**a, "id": str(a["id"])} for a in msg.attachments],
        "tenant_id": msg.tenant_id,
        "to": msg.to,
        "cc": msg.cc,
        "bcc": msg.bcc,
        "from_email": msg.from_email,
        "from_name": msg.from_name,
        "reply_to": msg.reply_to,
        "subject": msg.subject,
        "html_body": msg.html_body,
        "text_body": msg.text_body,
        "variables": msg.variables,
        "template": msg.template,
        "metadata": msg.metadata,
        "tags": msg.tags,
        "headers": msg.headers or None,
        "status": status.value,
        "priority": msg.priority,
        "priority_rank": PRIORITY_RANK[msg.priority],
        "max_attempts": msg.max_attempts,
        "idempotency_key": msg.idempotency_key,
        "request_hash": msg.request_hash,
        "recipients_lower": sorted({normalized_recipient(a) for a in (*msg.to, *msg.cc, *msg.bcc)}),
        "trace_id": msg.trace_id,
        "outbox_payload": {"traceparent": msg.traceparent} if msg.traceparent else None,
        "scheduled_at": msg.scheduled_at,
        "available_at": available_at,
        "now": now,
        "topic": SEND_TOPIC,
        "into_queue": into_queue,
        "queue": SEND_QUEUE,
    }


async def insert_accepted(conn: Executor, params: dict[str, Any]) -> dict[str, Any] | None:
    """Insert the message, its first event and its outbox row (or job); None when the idempotency key exists."""
    rows = await fetch(conn, _ACCEPT, params)
    return rows[0] if rows else None


async def insert_accepted_many(conn: Executor, batch: list[dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    """`insert_accepted` for many messages in one pipelined round trip; the rows inserted, by id.

    The batch runs as one `kit.driver.fetchmany`: one implicit transaction, so it commits (or fails) as a whole, and
    its answer holds each inserted row (SQLAlchemy's executemany cost about 60 µs more per accepted message and
    needed a second statement to find them). An id missing from the answer hit an existing idempotency key (or a
    duplicate within the batch).
    """
    rows = await fetchmany(conn, _ACCEPT, batch)
    return {
        r["id"]: {"id": r["id"], "status": r["status"], "suppressed_recipients": r["suppressed_recipients"]}
        for r in rows
    }


async def inserted(conn: Executor, batch: list[dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    """Which of the batch's messages exist, by id."""
    tenant_of = {p["id"]: p["tenant_id"] for p in batch}
    rows = await fetch(conn, _INSERTED, {"ids": list(tenant_of)})
    return {
        r["id"]: {"id": r["id"], "status": r["status"], "suppressed_recipients": r["suppressed_recipients"]}
        for r in rows
        if tenant_of.get(r["id"]) == r["tenant_id"]
    }


async def by_idempotency_key(conn: AsyncConnection, tenant_id: uuid.UUID, key: str) -> dict[str, Any] | None:
    stmt = scoped_select(
        messages,
        tenant_id,
        messages.c.id,
        messages.c.request_hash,
        messages.c.scheduled_at,
        messages.c.created_at,
        messages.c.suppressed_recipients,
    ).where(messages.c.idempotency_key == key)
    row = (await conn.execute(stmt)).one_or_none()
    return dict(row._mapping) if row else None


async def get(conn: AsyncConnection, tenant_id: uuid.UUID, message_id: uuid.UUID) -> dict[str, Any] | None:
    row = (await conn.execute(scoped_select(messages, tenant_id).where(messages.c.id == message_id))).one_or_none()
    return dict(row._mapping) if row else None


async def events_of(conn: AsyncConnection, message_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(events.c.type, events.c.payload, events.c.created_at)
        .where(events.c.message_id == message_id)
        .order_by(events.c.created_at, events.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def attachments_of(conn: AsyncConnection, message_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(attachments.c.filename, attachments.c.content_type, attachments.c.size_bytes, attachments.c.content_id)
        .where(attachments.c.message_id == message_id)
        .order_by(attachments.c.created_at, attachments.c.id)
    )
    return [dict(r._mapping) for r in rows]


def normalized_recipient(address: str) -> str:
    """How a recipient is stored in `messages.recipients` and searched: trimmed and lower-cased."""
    return address.strip().lower()


@dataclass(frozen=True, slots=True)
class ListFilter:
    status: str | None = None
    recipient: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    category: str | None = None
    tag: str | None = None
    dead_lettered: bool = False  # D-8: only what ran out of attempts and sits in the dead-letter queue


async def page(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    flt: ListFilter,
    *,
    limit: int,
    offset: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[dict[str, Any]]:
    """Newest first; keyset after (created_at, id) when a cursor is given, else limit/offset."""
    stmt = scoped_select(messages, tenant_id)
    if flt.dead_lettered:
        stmt = stmt.where(messages.c.dead_lettered_at.is_not(None))
    if flt.status:
        stmt = stmt.where(messages.c.status == flt.status)
    if flt.recipient:
        # Exact match on the normalized recipients, `recipients @> ARRAY[x]`, served by the GIN index on the
        # column: at 10 million messages it reads the few index entries for that one address, then sorts those.
        # A substring search (LIKE '%x%' over to/cc/bcc) cannot use any index, treats % and _ as wildcards, and
        # reads every message of the tenant on each call.
        stmt = stmt.where(messages.c.recipients.contains([normalized_recipient(flt.recipient)]))
    if flt.date_from:
        stmt = stmt.where(messages.c.created_at >= flt.date_from)
    if flt.date_to:
        stmt = stmt.where(messages.c.created_at < flt.date_to)
    if flt.category:
        stmt = stmt.where(messages.c.metadata["category"].astext == flt.category)
    if flt.tag:
        stmt = stmt.where(
            or_(
                messages.c.tags.contains([flt.tag]),
                messages.c.metadata["tags"].contains([flt.tag]),
            )
        )
    if after is not None:
        stmt = stmt.where(tuple_(messages.c.created_at, messages.c.id) < tuple_(*after))
    else:
        stmt = stmt.offset(offset)
    stmt = stmt.order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def add_event(
    conn: AsyncConnection,
    message_id: uuid.UUID,
    type_: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        events.insert().values(id=uuid7(), message_id=message_id, type=type_, payload=payload, created_at=now)
    )


async def cancel(conn: AsyncConnection, tenant_id: uuid.UUID, message_id: uuid.UUID, now: datetime) -> bool:
    stmt = (
        scoped_update(messages, tenant_id)
        .where(messages.c.id == message_id, messages.c.status.in_([s.value for s in CANCELABLE]))
        .values(status=Status.CANCELED.value, updated_at=now, next_attempt_at=None)
        .returning(messages.c.id)
    )
    if (await conn.execute(stmt)).one_or_none() is None:
        return False
    await add_event(conn, message_id, Status.CANCELED.value, now)
    return True


async def requeue(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    now: datetime,
    *,
    dead_lettered_only: bool = False,
) -> bool:
    """A6 retry (and D-8 requeue, `dead_lettered_only`): attempts reset, original content reused, a new outbox row."""
    stmt = (
        scoped_update(messages, tenant_id)
        .where(messages.c.id == message_id, messages.c.status.in_([s.value for s in RETRYABLE]))
        .values(
            status=Status.QUEUED.value,
            attempts=0,
            last_error=None,
            dead_lettered_at=None,
            next_attempt_at=now,
            updated_at=now,
        )
        .returning(messages.c.id, messages.c.priority)
    )
    if dead_lettered_only:
        stmt = stmt.where(messages.c.dead_lettered_at.is_not(None))
    row = (await conn.execute(stmt)).one_or_none()
    if row is None:
        return False
    await add_event(conn, message_id, Status.QUEUED.value, now, {"reason": "retry_requested"})
    await conn.execute(
        outbox.insert().values(
            topic=SEND_TOPIC,
            message_id=message_id,
            tenant_id=tenant_id,
            priority=PRIORITY_RANK[row.priority],
            available_at=now,
            created_at=now,
        )
    )
    await conn.execute(text("SELECT pg_notify('iep_outbox', '')"))
    return True
