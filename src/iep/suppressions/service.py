"""Suppression rules (SPEC F3, seed 003 §12): what suppresses an address, and managing the list by hand.

Every function runs in the caller's transaction and never commits: a provider event, an API request or a CLI
command is the boundary.
"""

from __future__ import annotations

import base64
import builtins
import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.problems import InvalidQuery
from iep.provider_events.vocabulary import BounceKind, EventType
from iep.suppressions import repository

DEFAULT_HARD_BOUNCE_THRESHOLD = 3


class Reason(StrEnum):
    MANUAL = "manual"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"


class Source(StrEnum):
    API = "api"
    CLI = "cli"
    PROVIDER_EVENT = "provider_event"
    DASHBOARD = "dashboard"


_threshold: int | None = None


def configure(*, suppress_after_hard_bounces: int) -> None:
    """Set SUPPRESS_AFTER_HARD_BOUNCES from the settings `bootstrap.build` was given."""
    global _threshold
    _threshold = suppress_after_hard_bounces


def hard_bounce_threshold() -> int:
    """SUPPRESS_AFTER_HARD_BOUNCES: from `configure`, else read from the environment once."""
    global _threshold
    if _threshold is None:
        from iep.config import load_settings

        _threshold = load_settings().suppress_after_hard_bounces
    return _threshold


def normalize(email: str) -> str:
    """Stored and compared lower-cased, as the accept statement compares `recipients_lower`."""
    return email.strip().lower()


async def record_feedback(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    email: str,
    event: EventType,
    bounce: BounceKind | None,
    now: datetime,
    message_id: uuid.UUID | None = None,
    diagnostic: str | None = None,
) -> bool:
    """Apply one normalized provider event to the address; True when the address became suppressed by it."""
    address = normalize(email)
    if event is EventType.COMPLAINED:
        return await _suppress(conn, tenant_id, address, Reason.COMPLAINT, now, message_id, diagnostic)
    if event is EventType.BOUNCED and bounce is BounceKind.HARD:
        count = await repository.bump_hard_bounces(conn, tenant_id, address, now)
        if count < hard_bounce_threshold():
            return False
        return await _suppress(conn, tenant_id, address, Reason.HARD_BOUNCE, now, message_id, diagnostic)
    if event is EventType.DELIVERED:
        # What marks an address dead is hard bounces in a row: one accepted delivery shows the mailbox exists,
        # so a bounce before it (a mailbox briefly disabled, a misconfigured receiving server) stops counting.
        await repository.reset_hard_bounces(conn, tenant_id, address)
    return False


async def _suppress(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    address: str,
    reason: Reason,
    now: datetime,
    message_id: uuid.UUID | None,
    diagnostic: str | None,
) -> bool:
    row = await repository.upsert(
        conn,
        tenant_id,
        address,
        reason=reason.value,
        source=Source.PROVIDER_EVENT.value,
        now=now,
        message_id=message_id,
        diagnostic=diagnostic[:2000] if diagnostic else None,
        keep_complaint=True,
    )
    return not row["was_active"]


async def add_manual(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    email: str,
    now: datetime,
    expires_at: datetime | None = None,
    source: Source = Source.API,
) -> dict[str, Any]:
    """Add the address, or update its entry (reason `manual`, the new expiry); the entry as stored."""
    row = await repository.upsert(
        conn,
        tenant_id,
        normalize(email),
        reason=Reason.MANUAL.value,
        source=source.value,
        now=now,
        expires_at=expires_at,
    )
    row.pop("was_active")
    return row


async def remove(conn: AsyncConnection, *, tenant_id: uuid.UUID, email: str) -> bool:
    """Delete the entry and the address's bounce count; False when the tenant had no entry for it."""
    address = normalize(email)
    removed = await repository.delete(conn, tenant_id, address)
    if removed:
        # A tenant that lifts the suppression starts the address from a clean record.
        await repository.reset_hard_bounces(conn, tenant_id, address)
    return removed


# `list` is the name the service API promises; `builtins.list` spells the type inside this module.
async def list(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    now: datetime,
    email: str | None = None,
    reason: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[builtins.list[dict[str, Any]], str | None]:
    """A page of entries, newest first, each with `active`; the cursor for the next page or None."""
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.page(
        conn,
        tenant_id,
        email=normalize(email) if email else None,
        reason=reason,
        limit=limit + 1,
        after=after,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["active"] = row["expires_at"] is None or row["expires_at"] > now
    return rows, encode_cursor(rows[-1]["id"]) if more and rows else None


async def suppressed_among(
    conn: AsyncConnection, tenant_id: uuid.UUID, emails: Iterable[str], now: datetime
) -> set[str]:
    """Which of the addresses (compared lower-cased) are suppressed at `now`; lower-cased."""
    return await repository.suppressed_among(conn, tenant_id, sorted({normalize(e) for e in emails}), now)


def encode_cursor(entry_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(entry_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except ValueError:
        raise InvalidQuery("the cursor is not one this API returned") from None
