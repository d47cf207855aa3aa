"""All SQL of the send step: claim a message under a lease, then record what happened (D6)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.ids import uuid7
from iep.messages.models import messages
from iep.messages.repository import add_event
from iep.messages.status import CLAIMABLE, Status


async def claim(
    conn: AsyncConnection, message_id: uuid.UUID, owner: str, now: datetime, lease: timedelta
) -> dict[str, Any] | None:
    """Take the message if it is due, or if its holder's lease ran out; None otherwise.

    The returned row's `previous_status` is `processing` when a worker died holding it: whether that worker's
    send reached the provider is unknown, and the caller records the message as ambiguous.
    """
    old = (
        select(
            messages.c.id,
            messages.c.status.label("previous_status"),
            messages.c.lease_owner.label("previous_owner"),
        )
        .where(messages.c.id == message_id)
        .with_for_update()
        .cte("old")
    )
    stmt = (
        update(messages)
        .where(
            messages.c.id == old.c.id,
            or_(
                and_(
                    old.c.previous_status.in_([s.value for s in CLAIMABLE]),
                    or_(messages.c.next_attempt_at.is_(None), messages.c.next_attempt_at <= now),
                ),
                and_(old.c.previous_status == Status.PROCESSING.value, messages.c.lease_until < now),
            ),
        )
        .values(
            status=Status.PROCESSING.value,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=messages.c.attempts + 1,
            updated_at=now,
        )
        .returning(*messages.c, old.c.previous_status, old.c.previous_owner)
    )
    row = (await conn.execute(stmt)).one_or_none()
    if row is None:
        return None
    found = dict(row._mapping)
    if found["previous_status"] == Status.PROCESSING.value:
        await add_event(conn, message_id, "ambiguous", now, {"previousOwner": found["previous_owner"]})
    await add_event(conn, message_id, Status.PROCESSING.value, now, {"attempt": found["attempts"], "worker": owner})
    return found


async def current(conn: AsyncConnection, message_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(messages.c.status, messages.c.lease_until, messages.c.next_attempt_at).where(
                messages.c.id == message_id
            )
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


def _held(message_id: uuid.UUID, owner: str) -> Any:
    return and_(
        messages.c.id == message_id,
        messages.c.status == Status.PROCESSING.value,
        messages.c.lease_owner == owner,
    )


# One statement in autocommit: the gap between the provider's "accepted" and our record of it is the only
# moment a crash can cause a second send, so it is kept to a single round trip.
_RECORD_SENT = text(
    """
WITH u AS (
  UPDATE messages SET status = 'sent', provider = :provider, provider_msg_id = :provider_msg_id,
    rendered_subject = :subject, rendered_html = :html, rendered_text = :text, sent_at = :now,
    last_error = NULL, lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = :now
  WHERE id = :id AND status = 'processing'
  RETURNING id
)
INSERT INTO events (id, message_id, type, payload, created_at)
VALUES (:event_id, :id, 'sent', :payload, :now)
"""
).bindparams(
    bindparam("id", type_=UUID(as_uuid=True)),
    bindparam("event_id", type_=UUID(as_uuid=True)),
    bindparam("payload", type_=JSONB),
)


async def record_sent(
    conn: AsyncConnection,
    message_id: uuid.UUID,
    now: datetime,
    *,
    provider: str,
    provider_message_id: str,
    response: str,
    rendered: tuple[str, str | None, str | None],
) -> None:
    """Mark sent even if this worker's lease ran out meanwhile: the email left, and saying so beats a gap."""
    subject, html, text_part = rendered
    await conn.execute(
        _RECORD_SENT,
        {
            "id": message_id,
            "event_id": uuid7(),
            "provider": provider,
            "provider_msg_id": provider_message_id,
            "subject": subject,
            "html": html,
            "text": text_part,
            "now": now,
            "payload": {
                "provider": provider,
                "providerMessageId": provider_message_id,
                "response": response[:500],
            },
        },
    )


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
) -> None:
    await conn.execute(
        update(messages)
        .where(_held(message_id, owner))
        .values(
            status=Status.RETRY_SCHEDULED.value,
            next_attempt_at=at,
            last_error=error,
            provider=provider,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
    )
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
) -> None:
    await conn.execute(
        update(messages)
        .where(_held(message_id, owner))
        .values(
            status=Status.FAILED.value,
            last_error=error,
            provider=provider,
            lease_owner=None,
            lease_until=None,
            next_attempt_at=None,
            dead_lettered_at=now if dead_letter else None,
            updated_at=now,
        )
    )
    payload = {"error": error, "code": code, "reason": reason, "provider": provider}
    if dead_letter:
        await add_event(conn, message_id, "dlq", now, payload)
    await add_event(conn, message_id, Status.FAILED.value, now, payload)
