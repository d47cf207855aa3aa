"""The directory's events (SPEC R4): what the registry and any later consumer read. docs/directory.md lists the
fields; docs/adr/0008 says how they may change (add optional fields freely, bump `schemaVersion` for anything
an older consumer would misread)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from iep.kit.ids import uuid7

# The topic every backend carries directory events on: a queue, a RabbitMQ queue, a BullMQ queue of this name.
DIRECTORY_TOPIC = "directory.events"
SCHEMA_VERSION = 1
CORRELATION_HEADER = "X-Correlation-Id"


class EventType(StrEnum):
    CREATED = "UserCreated"
    UPDATED = "UserUpdated"
    DELETED = "UserDeleted"


def document(
    event_type: EventType,
    *,
    user: dict[str, Any],
    secondaries: list[str],
    correlation_id: str,
    now: datetime,
    event_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The event as published: the user's whole state after the change, so applying it twice changes nothing."""
    return {
        "eventId": str(event_id or uuid7()),
        "type": event_type.value,
        "schemaVersion": SCHEMA_VERSION,
        "sequence": user["version"],
        "userId": str(user["id"]),
        "tenantId": str(user["tenant_id"]),
        "correlationId": correlation_id,
        "occurredAt": now.isoformat(),
        "data": {
            "name": user["name"],
            "primary": user["primary_address"],
            "secondaries": secondaries,
            "deleted": event_type is EventType.DELETED,
        },
    }
