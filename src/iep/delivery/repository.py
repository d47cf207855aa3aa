"""All SQL of the send step: claim a message under a lease, then record what happened (D6)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Integer, Text, and_, bindparam, column, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.driver import Executor, fetch, fetchmany
from iep.kit.ids import uuid7
from iep.messages.models import attachments, events, messages
from iep.messages.repository import add_event
from iep.messages.status import CLAIMABLE, Status
from iep.tenant_webhooks import repository as tenant_webhooks
from iep.tenant_webhooks.service import emit

# Every column by name: the migrated table's column order is not the declared one (ALTER TABLE appends), and
# a textual select is mapped onto `.columns(...)` by position. tests/test_architecture.py forbids `*` in raw SQL.
_MESSAGE_COLUMNS = ", ".join(f'm."{c.name}"' for c in messages.c)
_CLAIMED_COLUMNS = ", ".join(f'"{c.name}"' for c in messages.c)

# Lock the rows, take each one that is due or whose holder's lease ran out, and write its `processing` event (and
# the `ambiguous` one for a takeover): one statement for many messages, so one round trip in autocommit. Rows are
# locked in id order, so two workers claiming overlapping sets cannot deadlock.
_CLAIM = (
    text(
        f"""
WITH wanted AS (
  SELECT w.id, w.event_id, w.ambiguous_id
  FROM unnest(CAST(:ids AS uuid[]), CAST(:event_ids AS uuid[]), CAST(:ambiguous_ids AS uuid[]))
    AS w(id, event_id, ambiguous_id)
), old AS (
  SELECT m.id, m.status AS previous_status, m.lease_owner AS previous_owner, w.event_id, w.ambiguous_id
  FROM messages m JOIN wanted w ON w.id = m.id ORDER BY m.id FOR UPDATE OF m
), claimed AS (
  UPDATE messages m SET status = 'processing', lease_owner = :owner, lease_until = :lease_until,
    attempts = m.attempts + 1, updated_at = :now
  FROM old
  WHERE m.id = old.id AND (
    (old.previous_status = ANY(:claimable) AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= :now))
    OR (old.previous_status = 'processing' AND m.lease_until < :now))
  RETURNING {_MESSAGE_COLUMNS}, old.previous_status, old.previous_owner, old.event_id, old.ambiguous_id
), ambiguous AS (
  INSERT INTO events (id, message_id, type, payload, created_at)
  SELECT ambiguous_id, id, 'ambiguous', jsonb_build_object('previousOwner', previous_owner), :now
  FROM claimed WHERE previous_status = 'processing'
), processing AS (
  INSERT INTO events (id, message_id, type, payload, created_at)
  SELECT event_id, id, 'processing', jsonb_build_object('attempt', attempts, 'worker', CAST(:owner AS text)), :now
  FROM claimed
)
SELECT {_CLAIMED_COLUMNS}, previous_status, previous_owner FROM claimed
"""  # noqa: S608 - the interpolated names are the table's own declared columns, never input
    )
    .bindparams(
        bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
        bindparam("event_ids", type_=ARRAY(UUID(as_uuid=True))),
        bindparam("ambiguous_ids", type_=ARRAY(UUID(as_uuid=True))),
        bindparam("claimable", type_=ARRAY(Text)),
    )
    .columns(*messages.c, column("previous_status", Text), column("previous_owner", Text))
)
_CLAIMABLE = sorted(s.value for s in CLAIMABLE)
# A claim given back unsent while the tenant is suspended (ADR 0006), and its end when the tenant is activated.
HELD_EVENT = "held"
RESUMED_EVENT = "resumed"


async def claim_many(
    conn: Executor, message_ids: Sequence[uuid.UUID], owner: str, now: datetime, lease: timedelta
) -> dict[uuid.UUID, dict[str, Any]]:
    """Take each message that is due, or whose holder's lease ran out; the rows taken, by id.

    A row's `previous_status` is `processing` when a worker died holding it: whether that worker's send reached
    the provider is unknown, so the claim records the message as ambiguous.
    """
    ids = list(dict.fromkeys(message_ids))
    # Both events of a message share `now`, so their ids order them (uuid7 increases): ambiguous first.
    ambiguous_ids = [uuid7() for _ in ids]
    event_ids = [uuid7() for _ in ids]
    params = {
        "ids": ids,
        "owner": owner,
        "lease_until": now + lease,
        "now": now,
        "claimable": _CLAIMABLE,
        "ambiguous_ids": ambiguous_ids,
        "event_ids": event_ids,
    }
    return {row["id"]: row for row in await fetch(conn, _CLAIM, params)}


async def claim(
    conn: Executor, message_id: uuid.UUID, owner: str, now: datetime, lease: timedelta
) -> dict[str, Any] | None:
    """`claim_many` for one message: its row, or None when it is not due or held by a live lease."""
    return (await claim_many(conn, [message_id], owner, now, lease)).get(message_id)


async def current(conn: AsyncConnection, message_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(messages.c.status, messages.c.lease_until, messages.c.next_attempt_at).where(
                messages.c.id == message_id
            )
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


def _held(message_id: uuid.UUID, owner: str, fence: int | None) -> Any:
    """The message is still this claim's: processing, leased to `owner`, and not claimed again since (the fence
    is the attempt number the claim set; every later claim raises it)."""
    held = and_(
        messages.c.id == message_id,
        messages.c.status == Status.PROCESSING.value,
        messages.c.lease_owner == owner,
    )
    return held if fence is None else and_(held, messages.c.attempts == fence)


# One statement in autocommit: the gap between the provider's "accepted" and our record of it is the only
# moment a crash can cause a second send, so it is kept to a single round trip. The tenant's `message.sent`
# webhook events ride in the same statement, so they commit with the status or not at all.
_RECORD_SENT = text(
    f"""
WITH u AS (
  UPDATE messages SET status = 'sent', provider = :provider, provider_msg_id = :provider_msg_id,
    rendered_subject = :subject, rendered_html = :html, rendered_text = :text, sent_at = :now,
    last_error = NULL, lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = :now
  WHERE id = :id AND status = 'processing' AND (CAST(:fence AS integer) IS NULL OR attempts = :fence)
  RETURNING id, tenant_id, "to", rendered_subject AS subject, provider, attempts
), hooks AS ({tenant_webhooks.emit_sql("u")})
INSERT INTO events (id, message_id, type, payload, created_at)
SELECT :event_id, id, 'sent', :payload, :now FROM u
RETURNING message_id
"""  # noqa: S608 - only constant SQL fragments are interpolated, never input
).bindparams(
    bindparam("id", type_=UUID(as_uuid=True)),
    bindparam("event_id", type_=UUID(as_uuid=True)),
    bindparam("payload", type_=JSONB),
    *tenant_webhooks.EMIT_BINDS,
)


@dataclass(frozen=True, slots=True)
class Sent:
    """What the provider said about one message that left, to be recorded."""

    message_id: uuid.UUID
    now: datetime
    provider: str
    provider_message_id: str
    response: str
    rendered: tuple[str, str | None, str | None]
    suppressed: Sequence[str] = ()
    fence: int | None = None

    def params(self) -> dict[str, Any]:
        subject, html, text_part = self.rendered
        payload: dict[str, Any] = {
            "provider": self.provider,
            "providerMessageId": self.provider_message_id,
            "response": self.response[:500],
        }
        if self.suppressed:  # recipients left out at send (F3): the event says who did not get it
            payload["suppressedRecipients"] = list(self.suppressed)
        return {
            "id": self.message_id,
            "fence": self.fence,
            "event_id": uuid7(),
            "provider": self.provider,
            "provider_msg_id": self.provider_message_id,
            "subject": subject,
            "html": html,
            "text": text_part,
            "now": self.now,
            "payload": payload,
            "wh_event": "message.sent",
            "wh_data": {"providerMessageId": self.provider_message_id},
        }


async def record_sent(
    conn: Executor,
    message_id: uuid.UUID,
    now: datetime,
    *,
    provider: str,
    provider_message_id: str,
    response: str,
    rendered: tuple[str, str | None, str | None],
    suppressed: Sequence[str] = (),
    fence: int | None = None,
) -> bool:
    """Mark sent even if this worker's lease ran out meanwhile (the email left, and saying so beats a gap) —
    unless another claim took the message since (`fence`): then that claim's record stands, and False."""
    return await record(
        conn, Sent(message_id, now, provider, provider_message_id, response, rendered, suppressed, fence)
    )


async def record(conn: Executor, sent: Sent) -> bool:
    """`record_sent` of one `Sent`: one statement, one round trip in autocommit."""
    return bool(await fetch(conn, _RECORD_SENT, sent.params()))


async def record_sent_many(conn: Executor, many: Sequence[Sent]) -> list[bool]:
    """`record_sent` for many messages in one round trip, all or none (`kit.driver.fetchmany`); for each, whether it
    was recorded (its statement answered a row)."""
    recorded = {row["message_id"] for row in await fetchmany(conn, _RECORD_SENT, [sent.params() for sent in many])}
    return [sent.message_id in recorded for sent in many]


async def _settle(
    conn: AsyncConnection,
    message_id: uuid.UUID,
    owner: str,
    now: datetime,
    status: Status,
    fence: int | None = None,
    **values: Any,
) -> uuid.UUID | None:
    """Move a message this worker holds to `status` and give up the lease; its tenant, or None when the lease was
    lost to another worker (whose record stands)."""
    result = await conn.execute(
        update(messages)
        .where(_held(message_id, owner, fence))
        .values(status=status.value, lease_owner=None, lease_until=None, updated_at=now, **values)
        .returning(messages.c.tenant_id)
    )
    tenant_id: uuid.UUID | None = result.scalar_one_or_none()
    return tenant_id


async def record_retry(
    conn: AsyncConnection,
    message_id: uuid.UUID,
    owner: str,
    now: datetime,
    *,
    at: datetime,
    attempt: int,
    error: str,
    code: int | None,
    provider: str | None,
    fence: int | None = None,
) -> None:
    tenant_id = await _settle(
        conn,
        message_id,
        owner,
        now,
        Status.RETRY_SCHEDULED,
        fence,
        next_attempt_at=at,
        last_error=error,
        provider=provider,
    )
    if tenant_id is None and fence is not None:
        return  # another claim holds the message: its record stands, and this one writes nothing
    await add_event(
        conn,
        message_id,
        Status.RETRY_SCHEDULED.value,
        now,
        {
            "attempt": attempt,
            "nextAttemptAt": at.isoformat(),
            "error": error,
            "code": code,
            "provider": provider,
        },
    )
    if tenant_id is not None:
        data = {"error": error, "nextAttemptAt": at.isoformat()}
        await emit(conn, tenant_id=tenant_id, message_id=message_id, event_type="message.retrying", data=data, now=now)


async def record_crash(conn: AsyncConnection, message_id: uuid.UUID, now: datetime, detail: dict[str, Any]) -> int:
    """Write a `crashed` event; return how many the message has had, this one included."""
    await add_event(conn, message_id, "crashed", now, detail)
    count = await conn.execute(
        select(func.count()).select_from(events).where(events.c.message_id == message_id, events.c.type == "crashed")
    )
    return int(count.scalar_one())


async def record_failed(
    conn: AsyncConnection,
    message_id: uuid.UUID,
    owner: str,
    now: datetime,
    *,
    error: str,
    code: int | None,
    reason: str,
    provider: str | None,
    dead_letter: bool,
    fence: int | None = None,
) -> None:
    tenant_id = await _settle(
        conn,
        message_id,
        owner,
        now,
        Status.FAILED,
        fence,
        last_error=error,
        provider=provider,
        next_attempt_at=None,
        dead_lettered_at=now if dead_letter else None,
    )
    if tenant_id is None and fence is not None:
        return  # another claim holds the message: its record stands
    payload = {"error": error, "code": code, "reason": reason, "provider": provider}
    if dead_letter:
        await add_event(conn, message_id, "dlq", now, payload)
    await add_event(conn, message_id, Status.FAILED.value, now, payload)
    if tenant_id is not None:  # the tenant's webhook events, in this same transaction
        data = {"error": error, "reason": reason}
        await emit(conn, tenant_id=tenant_id, message_id=message_id, event_type="message.failed", data=data, now=now)


async def record_suppressed(
    conn: AsyncConnection,
    message_id: uuid.UUID,
    owner: str,
    now: datetime,
    *,
    dropped: Sequence[str],
    fence: int | None = None,
) -> bool:
    """Every recipient is suppressed: the message ends `suppressed` without a provider call (F3)."""
    tenant_id = await _settle(conn, message_id, owner, now, Status.SUPPRESSED, fence, next_attempt_at=None)
    if tenant_id is None:  # the lease was lost to another worker, whose record stands
        return False
    data = {"suppressedRecipients": list(dropped)}
    await add_event(conn, message_id, Status.SUPPRESSED.value, now, data)
    await emit(conn, tenant_id=tenant_id, message_id=message_id, event_type="message.suppressed", data=data, now=now)
    return True


async def record_held(
    conn: AsyncConnection,
    message_id: uuid.UUID,
    owner: str,
    now: datetime,
    *,
    until: datetime,
    previous_status: str | None,
    reason: str,
    fence: int | None = None,
) -> bool:
    """Give the claim back without sending (ADR 0006): due again at `until`, and the attempt the claim counted
    is taken back, so a hold never brings a message nearer to `max_attempts` or the dead-letter queue."""
    status = Status.RETRY_SCHEDULED if previous_status == Status.RETRY_SCHEDULED.value else Status.SCHEDULED
    held = await _settle(
        conn,
        message_id,
        owner,
        now,
        status,
        fence,
        next_attempt_at=until,
        attempts=func.greatest(messages.c.attempts - 1, 0),
    )
    if held is None:  # the lease was lost to another worker, whose record stands
        return False
    await add_event(conn, message_id, HELD_EVENT, now, {"reason": reason, "until": until.isoformat()})
    return True


_RENEW = text(
    """
UPDATE messages m SET lease_until = :until
FROM unnest(CAST(:ids AS uuid[]), CAST(:fences AS integer[])) AS held(id, fence)
WHERE m.id = held.id AND m.attempts = held.fence AND m.status = 'processing' AND m.lease_owner = :owner
RETURNING m.id
"""
).bindparams(bindparam("ids", type_=ARRAY(UUID(as_uuid=True))), bindparam("fences", type_=ARRAY(Integer)))


async def renew_leases(
    conn: AsyncConnection, held: Sequence[tuple[uuid.UUID, int]], owner: str, until: datetime
) -> set[uuid.UUID]:
    """Extend the leases this worker still holds to `until`, in one statement; the ids that were renewed."""
    params = {"ids": [i for i, _ in held], "fences": [f for _, f in held], "owner": owner, "until": until}
    return set((await conn.execute(_RENEW, params)).scalars())


# A held message is one waiting (scheduled or retry_scheduled) whose latest event is `held`: no column to keep
# in step. Each gets `next_attempt_at = now`, a `resumed` event (so a second activation finds nothing) and a
# new outbox row; the job the hold scheduled still fires later and finds the message sent: a no-op (D6).
_HELD = text(
    """
SELECT m.id FROM messages m
WHERE m.tenant_id = :tenant_id AND m.status IN ('scheduled', 'retry_scheduled')
  AND (SELECT e.type FROM events e WHERE e.message_id = m.id ORDER BY e.created_at DESC, e.id DESC LIMIT 1) = 'held'
ORDER BY m.created_at
FOR UPDATE OF m
"""
).bindparams(bindparam("tenant_id", type_=UUID(as_uuid=True)))
# The event ids come from Python (uuid7, increasing), so a `resumed` sorts after the `held` it answers even
# when both carry the same instant.
_RESUME = text(
    """
WITH moved AS (
  UPDATE messages SET next_attempt_at = :now, updated_at = :now
  WHERE id = ANY(:ids) AND status IN ('scheduled', 'retry_scheduled')
  RETURNING id, tenant_id, priority
), noted AS (
  INSERT INTO events (id, message_id, type, payload, created_at)
  SELECT e.event_id, e.message_id, 'resumed', '{"reason": "tenant_activated"}'::jsonb, :now
  FROM unnest(CAST(:ids AS uuid[]), CAST(:event_ids AS uuid[])) AS e(message_id, event_id)
  WHERE e.message_id IN (SELECT id FROM moved)
)
INSERT INTO outbox (topic, message_id, tenant_id, priority, available_at, created_at)
SELECT 'mail.send', id, tenant_id, CASE priority WHEN 'high' THEN 0 WHEN 'low' THEN 2 ELSE 1 END, :now, :now
FROM moved
RETURNING message_id
"""
).bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("event_ids", type_=ARRAY(UUID(as_uuid=True))),
)


async def release_held(conn: AsyncConnection, tenant_id: uuid.UUID, now: datetime) -> int:
    """Hand a re-activated tenant's held messages back to the queue now; return how many."""
    ids = list((await conn.execute(_HELD, {"tenant_id": tenant_id})).scalars())
    if not ids:
        return 0
    params = {"ids": ids, "event_ids": [uuid7() for _ in ids], "now": now}
    released = len((await conn.execute(_RESUME, params)).all())
    await conn.execute(text("SELECT pg_notify('iep_outbox', '')"))
    return released


# What the send step needs beyond the message row (`delivery/context.py`), for many messages in one statement.
# Each subquery is bound to the message's own tenant; recipients travel as (message index, address) pairs.
# The suppression rule is `suppressions.repository.active`, spelled in SQL as the accept statement spells it.
_CONTEXTS = text(
    """
WITH wanted AS (
  SELECT w.idx, w.tenant_id, w.message_id, w.domain
  FROM unnest(CAST(:idx AS integer[]), CAST(:tenant_ids AS uuid[]), CAST(:message_ids AS uuid[]),
              CAST(:domains AS text[])) AS w(idx, tenant_id, message_id, domain)
), recipients AS (
  SELECT r.idx, r.email FROM unnest(CAST(:r_idx AS integer[]), CAST(:r_emails AS text[])) AS r(idx, email)
)
SELECT w.idx, t.settings, t.active,
  (SELECT coalesce(array_agg(s.email), CAST('{}' AS text[])) FROM suppression_list s
     JOIN recipients r ON r.email = s.email
     WHERE r.idx = w.idx AND s.tenant_id = w.tenant_id AND (s.expires_at IS NULL OR s.expires_at > :now)
  ) AS suppressed,
  (SELECT jsonb_agg(jsonb_build_object('name', p.name, 'kind', p.kind, 'config', p.config_encrypted) ORDER BY p.name)
     FROM tenant_providers p WHERE p.tenant_id = w.tenant_id) AS own,
  (SELECT jsonb_build_object('domain', d.domain, 'selector', d.selector,
                             'private_key_encrypted', d.private_key_encrypted)
     FROM dkim_keys d WHERE d.tenant_id = w.tenant_id AND d.domain = w.domain) AS dkim,
  (SELECT count(*) FROM attachments a WHERE a.message_id = w.message_id) AS files
FROM wanted w LEFT JOIN tenants t ON t.id = w.tenant_id
"""
).columns(
    column("idx", Integer),
    column("settings", JSONB),
    column("active", Boolean),
    column("suppressed", ARRAY(Text)),
    column("own", JSONB),
    column("dkim", JSONB),
    column("files", Integer),
)


@dataclass(frozen=True, slots=True)
class ContextWanted:
    tenant_id: uuid.UUID
    message_id: uuid.UUID
    domain: str  # the From domain in its A-label form, as DKIM keys are stored
    recipients: Sequence[str]  # lower-cased


async def sending_contexts(conn: Executor, wanted: Sequence[ContextWanted], now: datetime) -> list[dict[str, Any]]:
    """One row per wanted message, in order: tenant settings and state, suppressed recipients, own providers,
    DKIM key and attachment count."""
    pairs = [(i, r) for i, w in enumerate(wanted) for r in w.recipients]
    params = {
        "idx": list(range(len(wanted))),
        "tenant_ids": [w.tenant_id for w in wanted],
        "message_ids": [w.message_id for w in wanted],
        "domains": [w.domain for w in wanted],
        "r_idx": [i for i, _ in pairs],
        "r_emails": [r for _, r in pairs],
        "now": now,
    }
    rows = {row["idx"]: row for row in await fetch(conn, _CONTEXTS, params)}
    return [rows[i] for i in range(len(wanted))]


_ATTACHMENTS = (
    select(attachments)
    .where(attachments.c.message_id == bindparam("message_id", type_=UUID(as_uuid=True)))
    .order_by(attachments.c.created_at)
)


async def attachment_rows(conn: Executor, message_id: uuid.UUID) -> list[dict[str, Any]]:
    return await fetch(conn, _ATTACHMENTS, {"message_id": message_id})
