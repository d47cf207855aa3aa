"""Tenant webhooks: `emit` (in the caller's transaction) and the endpoint management behind the API."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.crypto import KeyRing
from iep.kit.ids import uuid7
from iep.kit.problems import InvalidQuery, NotFound
from iep.tenant_webhooks import repository, signing
from iep.tenant_webhooks.problems import (
    EncryptionUnavailable,
    ReplayInProgress,
    UnknownWebhookEvent,
    WebhookUrlRefused,
)
from iep.tenant_webhooks.schemas import EVENT_TYPES, EndpointCreate, EndpointUpdate
from iep.tenant_webhooks.ssrf import Guard, UrlRefused


async def emit(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> int:
    """Owe `event_type` to every active endpoint of the tenant that subscribed to it; returns how many.

    Runs inside the caller's transaction: the events commit with the status change that caused them, or not at
    all. The webhooks role finds them by their due time; nothing is published to a broker from here.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    return await repository.insert_events(conn, tenant_id, message_id, event_type, data, now)


def _events(requested: list[str]) -> list[str]:
    unknown = [e for e in requested if e not in EVENT_TYPES]
    if unknown:
        raise UnknownWebhookEvent(
            f"unknown event(s): {', '.join(unknown)}; allowed: {', '.join(EVENT_TYPES)}",
            allowed=list(EVENT_TYPES),
            unknown=unknown,
        )
    return list(dict.fromkeys(requested))


async def _checked_url(guard: Guard, url: str) -> str:
    try:
        await guard.check(url)
    except UrlRefused as exc:
        raise WebhookUrlRefused(str(exc)) from None
    return url


async def create_endpoint(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    body: EndpointCreate,
    *,
    guard: Guard,
    keyring: KeyRing | None,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    """Check, store with the secret encrypted, and return the row and the secret (shown this once)."""
    events = _events(body.events)
    if keyring is None:
        raise EncryptionUnavailable("set IEP_ENCRYPTION_KEY (id:base64 of 32 bytes) to register webhook endpoints")
    url = await _checked_url(guard, body.url)
    endpoint_id = uuid7()
    secret = signing.new_secret()
    sealed = keyring.encrypt(secret.encode(), context=signing.secret_context(tenant_id, endpoint_id))
    await repository.insert_endpoint(
        conn,
        {
            "id": endpoint_id,
            "tenant_id": tenant_id,
            "url": url,
            "events": events,
            "secret_encrypted": sealed,
            "description": body.description,
            "created_at": now,
            "updated_at": now,
        },
    )
    return await get_endpoint(conn, tenant_id, endpoint_id), secret


async def get_endpoint(conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> dict[str, Any]:
    row = await repository.get_endpoint(conn, tenant_id, endpoint_id)
    if row is None:
        raise NotFound("no such webhook endpoint")
    return row


async def list_endpoints(conn: AsyncConnection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    return await repository.list_endpoints(conn, tenant_id)


async def update_endpoint(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    *,
    guard: Guard,
    now: datetime,
) -> dict[str, Any]:
    await get_endpoint(conn, tenant_id, endpoint_id)  # 404 before any other answer
    values: dict[str, Any] = {"updated_at": now}
    if body.events is not None:
        values["events"] = _events(body.events)
    if body.url is not None:
        values["url"] = await _checked_url(guard, body.url)
    if "description" in body.model_fields_set:
        values["description"] = body.description
    if body.active is True:
        # Re-enabled by the tenant: the failure run starts from nothing.
        values.update(active=True, disabled_at=None, disabled_reason=None, consecutive_failures=0, failing_since=None)
    elif body.active is False:
        values["active"] = False
    await repository.update_endpoint(conn, tenant_id, endpoint_id, values)
    return await get_endpoint(conn, tenant_id, endpoint_id)


async def delete_endpoint(conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    if not await repository.delete_endpoint(conn, tenant_id, endpoint_id):
        raise NotFound("no such webhook endpoint")


def _encode_cursor(created_at: datetime, delivery_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{delivery_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, ident = raw.partition("|")
        return datetime.fromisoformat(at), uuid.UUID(ident)
    except ValueError:
        raise InvalidQuery("`cursor` is not one this API returned") from None


async def list_deliveries(
    conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    await get_endpoint(conn, tenant_id, endpoint_id)
    after = _decode_cursor(cursor) if cursor else None
    rows = await repository.list_deliveries(conn, tenant_id, endpoint_id, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
    return rows, next_cursor


async def replay(
    conn: AsyncConnection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """One more attempt of the delivery's event, with the same `webhook-id`; returns the event id."""
    await get_endpoint(conn, tenant_id, endpoint_id)
    found = await repository.replay(conn, tenant_id, endpoint_id, delivery_id, now)
    if found is None:
        raise NotFound("no such delivery for this webhook endpoint")
    if not found["replayed"]:
        raise ReplayInProgress()
    event_id: uuid.UUID = found["event_id"]
    return event_id
