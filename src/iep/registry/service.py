"""The registry's rules (SPEC R5): apply each directory event once, in each user's sequence order.

An event carries the user's whole state after the change, so applying one is a write of that state. Its id
is remembered: a second delivery is a no-op. Its sequence number says where it goes: the next one for the user
is applied (and then any parked ones that now follow), a later one is parked until the gap closes, an earlier
one is a repeat. Fields this version does not know are ignored (docs/adr/0008); a `schemaVersion` it does not
know, or a document it cannot read, is poison: the dead-letter queue, never a guess.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from iep.registry import repository

SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
EVENT_TYPES = frozenset({"UserCreated", "UserUpdated", "UserDeleted"})


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    PARKED = "parked"


class PoisonEvent(Exception):
    """An event the registry can never apply as it is: it goes to the dead-letter queue with this reason."""


def read(document: Any) -> dict[str, Any]:
    """The fields the registry uses, checked; anything else in the document is ignored."""
    if not isinstance(document, dict):
        raise PoisonEvent("the job carries no event document")
    try:
        version = document["schemaVersion"]
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            raise PoisonEvent(f"schemaVersion {version!r} is not one this registry understands")
        if document["type"] not in EVENT_TYPES:
            raise PoisonEvent(f"unknown event type {document['type']!r}")
        data = document["data"]
        event = {
            "event_id": uuid.UUID(document["eventId"]),
            "type": document["type"],
            "sequence": int(document["sequence"]),
            "user_id": uuid.UUID(document["userId"]),
            "tenant_id": uuid.UUID(document["tenantId"]),
            "name": str(data["name"]),
            "primary": str(data["primary"]),
            "secondaries": [str(a) for a in data["secondaries"]],
            "deleted": bool(data.get("deleted", document["type"] == "UserDeleted")),
        }
    except PoisonEvent:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonEvent(f"unreadable event: {type(exc).__name__}: {exc}") from None
    if event["sequence"] < 1:
        raise PoisonEvent("sequence must be 1 or more")
    return event


async def handle(conn: AsyncConnection, document: Any, now: datetime) -> Outcome:
    event = read(document)
    await repository.lock_user(conn, event["user_id"])
    if await repository.seen(conn, event["event_id"]):
        return Outcome.DUPLICATE
    applied = await repository.applied_sequence(conn, event["user_id"])
    if event["sequence"] <= applied:
        await repository.mark_processed(conn, event)  # an older state than the one held: nothing to do
        return Outcome.DUPLICATE
    if event["sequence"] > applied + 1:
        await repository.park(conn, event, document)
        return Outcome.PARKED
    await _apply(conn, event, now)
    while (later := await repository.take_parked(conn, event["user_id"], event["sequence"] + 1)) is not None:
        event = read(later)
        await _apply(conn, event, now)
    return Outcome.APPLIED


async def _apply(conn: AsyncConnection, event: dict[str, Any], now: datetime) -> None:
    deleted_at = now if event["deleted"] else None
    await repository.save_user(
        conn,
        {
            "user_id": event["user_id"],
            "tenant_id": event["tenant_id"],
            "name": event["name"],
            "primary_address": event["primary"],
            "applied_sequence": event["sequence"],
            "deleted_at": deleted_at,
            "updated_at": now,
        },
    )
    rows = [{"address": event["primary"], "kind": "primary"}]
    rows += [{"address": a, "kind": "secondary"} for a in event["secondaries"] if a != event["primary"]]
    await repository.save_addresses(
        conn, [{**r, "user_id": event["user_id"], "deleted_at": deleted_at, "updated_at": now} for r in rows]
    )
    await repository.mark_processed(conn, event)
