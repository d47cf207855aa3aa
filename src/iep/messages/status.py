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


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.PROCESSING, Status.CANCELED}),
    Status.SCHEDULED: frozenset({Status.PROCESSING, Status.CANCELED}),
    # PROCESSING → SCHEDULED: a hold while the tenant is suspended gives the claim back unsent (ADR 0006).
    Status.PROCESSING: frozenset(
        {Status.SENT, Status.RETRY_SCHEDULED, Status.FAILED, Status.SUPPRESSED, Status.PROCESSING, Status.SCHEDULED}
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


# How a message starts: accepted for now, or for later (D-5).
INITIAL = frozenset({Status.QUEUED, Status.SCHEDULED})


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def sources(target: Status) -> frozenset[Status]:
    """Every status `target` may be reached from: what a write's `WHERE status IN (...)` allows."""
    return frozenset(s for s, moves in TRANSITIONS.items() if target in moves)


# The guards of the write paths, read off TRANSITIONS so the rules live in one place.
# A worker claims what is due; `processing` only once its lease ran out, which the claim checks itself.
CLAIMABLE = sources(Status.PROCESSING) - {Status.PROCESSING}
CANCELABLE = sources(Status.CANCELED)
RETRYABLE = sources(Status.QUEUED)  # A6 retry and D-8 requeue: failed or bounced, back to the queue
# Nothing left for a worker to do: a redelivered job for such a message is acked and sends nothing (D6).
FINAL = frozenset(Status) - CLAIMABLE - {Status.PROCESSING}


# What providers report after a send (F1), ranked by severity: a recipient's outcome, and the message's, only
# ever moves up this ladder, so a late `delivered` never undoes a `bounced` and arrival order does not matter.
# The ladder agrees with TRANSITIONS: each step up is a legal move from `sent` onwards.
FEEDBACK_RANK: dict[Status, int] = {
    Status.SENT: 0,
    Status.DELIVERED: 1,
    Status.BOUNCED: 2,  # a hard bounce only; a soft one changes nothing
    Status.COMPLAINED: 3,
}


def feedback_moves(current: Status | None, target: Status) -> bool:
    """Whether a recipient's outcome `current` (None: nothing heard yet) gives way to `target`."""
    return FEEDBACK_RANK[target] > (FEEDBACK_RANK.get(current, 0) if current is not None else 0)


def derived_message_status(current: Status, recipient_outcomes: list[Status]) -> Status:
    """The message's status once its recipients' outcomes are known: the most severe outcome of any recipient
    (complained > bounced > delivered > sent), and only when that is a legal forward move from `current`."""
    if not recipient_outcomes:
        return current
    worst = max(recipient_outcomes, key=FEEDBACK_RANK.__getitem__)
    if current in FEEDBACK_RANK and FEEDBACK_RANK[worst] <= FEEDBACK_RANK[current]:
        return current
    return worst if can_move(current, worst) else current
