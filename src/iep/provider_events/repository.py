"""All SQL of provider events. The tenant is not known from the request: the message an event names decides it,
and an event that arrived through a tenant's own provider account only ever matches that tenant's messages."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.ids import uuid7
from iep.messages.models import messages
from iep.messages.repository import add_event
from iep.messages.status import Status
from iep.provider_events.vocabulary import BounceKind, EventType

# Lock the candidate messages in id order, so two requests about the same messages queue rather than deadlock.
_CANDIDATES = text(
    """
SELECT id, tenant_id, provider_msg_id, status, "to", cc, bcc FROM messages
WHERE (provider_msg_id = ANY(:provider_ids) OR id = ANY(:ids))
  AND (CAST(:tenant_id AS uuid) IS NULL OR tenant_id = CAST(:tenant_id AS uuid))
ORDER BY id FOR UPDATE
"""
).bindparams(
    bindparam("provider_ids", type_=ARRAY(Text)),
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("tenant_id", type_=UUID(as_uuid=True)),
)

_INSERT_EVENTS = text(
    """
INSERT INTO provider_events (id, provider, event_id, tenant_id, message_id, provider_msg_id, type, recipient,
  bounce, diagnostic, occurred_at, received_at, raw)
SELECT x.id, x.provider, x.event_id, x.tenant_id, x.message_id, x.provider_msg_id, x.type, x.recipient,
  x.bounce, x.diagnostic, x.occurred_at, :now, x.raw
FROM jsonb_to_recordset(:rows) AS x(id uuid, provider text, event_id text, tenant_id uuid, message_id uuid,
  provider_msg_id text, type text, recipient text, bounce text, diagnostic text, occurred_at timestamptz, raw jsonb)
ON CONFLICT (provider, event_id) DO NOTHING
RETURNING event_id
"""
).bindparams(bindparam("rows", type_=JSONB))

_OUTCOMES = text("SELECT message_id, email, status FROM message_recipients WHERE message_id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
)

# One statement: the recipient's outcome, the message's status when it moves, and the lifecycle event.
_FEEDBACK = text(
    """
WITH r AS (
  INSERT INTO message_recipients (message_id, email, status, updated_at) VALUES (:message_id, :email, :outcome, :now)
  ON CONFLICT (message_id, email) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
), m AS (
  UPDATE messages SET status = :message_status, updated_at = :now
  WHERE id = :message_id AND status = :previous_status AND status <> :message_status
)
INSERT INTO events (id, message_id, type, payload, created_at) VALUES (:event_id, :message_id, :outcome, :payload, :now)
"""
).bindparams(
    bindparam("message_id", type_=UUID(as_uuid=True)),
    bindparam("event_id", type_=UUID(as_uuid=True)),
    bindparam("payload", type_=JSONB),
)

_CLAIM_NONCE = text(
    """
WITH old AS (DELETE FROM provider_event_nonces WHERE seen_at < :forget_before)
INSERT INTO provider_event_nonces (provider, nonce, seen_at) VALUES (:provider, :nonce, :now)
ON CONFLICT (provider, nonce) DO NOTHING
RETURNING nonce
"""
)

_ACCOUNT = text("SELECT id, tenant_id, name, kind, config_encrypted FROM tenant_providers WHERE id = :id").bindparams(
    bindparam("id", type_=UUID(as_uuid=True))
)


async def lock_candidates(
    conn: AsyncConnection, provider_ids: list[str], ids: list[uuid.UUID], tenant_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    params = {"provider_ids": provider_ids, "ids": ids, "tenant_id": tenant_id}
    return [dict(r._mapping) for r in await conn.execute(_CANDIDATES, params)]


async def insert_events(conn: AsyncConnection, rows: list[dict[str, Any]], now: datetime) -> set[str]:
    """Store the events not stored before; the event ids that were new."""
    if not rows:
        return set()
    return {r.event_id for r in await conn.execute(_INSERT_EVENTS, {"rows": rows, "now": now})}


def event_row(
    *,
    provider: str,
    event_id: str,
    tenant_id: uuid.UUID | None,
    message_id: uuid.UUID | None,
    provider_msg_id: str | None,
    type_: str,
    recipient: str | None,
    bounce: str | None,
    diagnostic: str | None,
    occurred_at: datetime,
    raw: Any,
) -> dict[str, Any]:
    """One `_INSERT_EVENTS` record, JSON-ready."""
    return {
        "id": str(uuid7()),
        "provider": provider,
        "event_id": event_id,
        "tenant_id": str(tenant_id) if tenant_id else None,
        "message_id": str(message_id) if message_id else None,
        "provider_msg_id": provider_msg_id,
        "type": type_,
        "recipient": recipient,
        "bounce": bounce,
        "diagnostic": diagnostic,
        "occurred_at": occurred_at.isoformat(),
        "raw": raw,
    }


async def recipient_outcomes(
    conn: AsyncConnection, message_ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], Status]:
    if not message_ids:
        return {}
    rows = await conn.execute(_OUTCOMES, {"ids": message_ids})
    return {(r.message_id, r.email): Status(r.status) for r in rows}


async def record_feedback(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    recipient: str,
    event: EventType,
    bounce: BounceKind | None,
    diagnostic: str | None,
    provider: str,
    provider_event_id: str,
    outcome: Status,
    previous_status: Status,
    message_status: Status,
    now: datetime,
) -> None:
    """The write of a feedback status change (F1/F2): a recipient's outcome moved forward (the service decided,
    by iep.messages.status); the caller adds suppression and the tenant webhook in the same transaction."""
    del tenant_id, event
    payload = {
        "recipient": recipient,
        "bounce": bounce.value if bounce else None,
        "diagnostic": diagnostic,
        "provider": provider,
        "providerEventId": provider_event_id,
    }
    await conn.execute(
        _FEEDBACK,
        {
            "message_id": message_id,
            "email": recipient,
            "outcome": outcome.value,
            "previous_status": previous_status.value,
            "message_status": message_status.value,
            "event_id": uuid7(),
            "payload": payload,
            "now": now,
        },
    )


async def record_activity(
    conn: AsyncConnection, message_id: uuid.UUID, type_: str, now: datetime, payload: dict[str, Any]
) -> None:
    """An event in the message's history that changes no status (soft bounce, open, click...)."""
    await add_event(conn, message_id, type_, now, payload)


async def claim_nonce(conn: AsyncConnection, provider: str, nonce: str, now: datetime, keep: timedelta) -> bool:
    """False when this provider's nonce was seen within `keep` (a replay). Older nonces are forgotten here."""
    params = {"provider": provider, "nonce": nonce, "now": now, "forget_before": now - keep}
    return (await conn.execute(_CLAIM_NONCE, params)).one_or_none() is not None


async def account(conn: AsyncConnection, account_id: uuid.UUID) -> dict[str, Any] | None:
    """A tenant's own provider account by id: the webhook URL names it, no tenant is known yet."""
    row = (await conn.execute(_ACCOUNT, {"id": account_id})).one_or_none()
    return dict(row._mapping) if row else None


async def message_status(conn: AsyncConnection, message_id: uuid.UUID) -> str | None:
    """The message's status, whichever tenant it is: the simulator waits for its send to be recorded."""
    return (await conn.execute(select(messages.c.status).where(messages.c.id == message_id))).scalar_one_or_none()
