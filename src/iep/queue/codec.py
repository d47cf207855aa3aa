"""The job as it travels through a broker: a small JSON document, the same for every broker backend."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

from iep.queue.port import Job


def encode(job: Job) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "messageId": str(job.message_id),
        "tenantId": str(job.tenant_id),
        "priority": job.priority,
        "availableAt": job.available_at.isoformat() if job.available_at else None,
    }
    if job.payload is not None:
        doc["payload"] = job.payload
    return doc


def decode(data: dict[str, Any], *, deliveries: int, receipt: Any) -> Job:
    at = data.get("availableAt")
    return Job(
        message_id=uuid.UUID(data["messageId"]),
        tenant_id=uuid.UUID(data["tenantId"]),
        priority=int(data.get("priority", 1)),
        available_at=datetime.fromisoformat(at) if at else None,
        deliveries=deliveries,
        receipt=receipt,
        payload=data.get("payload"),
    )


def dumps(job: Job) -> bytes:
    return orjson.dumps(encode(job))


def loads(body: bytes, *, deliveries: int, receipt: Any) -> Job:
    return decode(orjson.loads(body), deliveries=deliveries, receipt=receipt)
