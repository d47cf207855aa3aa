"""The message lifecycle (D-1): statuses and the moves between them that are legal."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    SENT = "sent"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    BOUNCED = "bounced"
    DELIVERED = "delivered"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"
    CANCELED = "canceled"


# Statuses a worker may claim a message from; `processing` only once its lease has run out.
CLAIMABLE = frozenset({Status.QUEUED, Status.SCHEDULED, Status.RETRY_SCHEDULED})
CANCELABLE = frozenset({Status.QUEUED, Status.SCHEDULED, Status.RETRY_SCHEDULED})
RETRYABLE = frozenset({Status.FAILED, Status.BOUNCED})
FINAL = frozenset(
    {
        Status.SENT,
        Status.FAILED,
        Status.BOUNCED,
        Status.DELIVERED,
        Status.COMPLAINED,
        Status.CANCELED,
        Status.SUPPRESSED,
    }
)

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.PROCESSING, Status.CANCELED}),
    Status.SCHEDULED: frozenset({Status.PROCESSING, Status.CANCELED}),
    Status.PROCESSING: frozenset(
        {Status.SENT, Status.RETRY_SCHEDULED, Status.FAILED, Status.SUPPRESSED, Status.PROCESSING}
    ),
    Status.RETRY_SCHEDULED: frozenset({Status.PROCESSING, Status.CANCELED}),
    Status.SENT: frozenset({Status.DELIVERED, Status.BOUNCED, Status.COMPLAINED}),
    Status.DELIVERED: frozenset({Status.BOUNCED, Status.COMPLAINED}),
    Status.FAILED: frozenset({Status.QUEUED}),
    Status.BOUNCED: frozenset({Status.QUEUED, Status.COMPLAINED}),
    Status.COMPLAINED: frozenset(),
    Status.SUPPRESSED: frozenset(),
    Status.CANCELED: frozenset(),
}


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]
