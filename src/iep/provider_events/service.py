"""Ingest normalized provider events: store each once, match it to a message, move statuses forward only.

Every inbound source calls `ingest`: the provider webhooks here, and the SMTP bounce mailbox (provider
`smtp`, with IEP's message id from the VERP address instead of a provider id).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from iep.config import Settings
from iep.delivery.routing import tenant_provider_context
from iep.kit.crypto import CryptoError, KeyRing
from iep.messages.status import Status, derived_message_status, feedback_moves
from iep.provider_events import repository
from iep.provider_events.parsers.base import WebhookCredentials, normalize_msg_id
from iep.provider_events.vocabulary import BounceKind, EventType, ProviderEvent
from iep.suppressions import service as suppressions
from iep.tenant_webhooks import service as tenant_webhooks

# Events that change no status still join the message's history, under these `events.type` names.
_ACTIVITY = {
    EventType.BOUNCED: "deferred",  # a soft bounce: the receiving side may still take it
    EventType.DEFERRED: "deferred",
    EventType.REJECTED: "rejected",
    EventType.OPENED: "opened",
    EventType.CLICKED: "clicked",
    EventType.UNSUBSCRIBED: "unsubscribed",
}


@dataclass(frozen=True, slots=True)
class IngestResult:
    received: int  # events given
    stored: int  # new rows in provider_events
    duplicates: int  # already stored (same provider + event id): nothing done
    matched: int  # new events that matched one of our messages (and its recipient)
    status_changes: int  # recipient outcomes that moved forward

    def as_json(self) -> dict[str, int]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "matched": self.matched,
            "statusChanges": self.status_changes,
        }


def feedback_outcome(event: ProviderEvent) -> Status | None:
    """The recipient outcome an event establishes, or None when it only joins the history."""
    if event.type is EventType.DELIVERED:
        return Status.DELIVERED
    if event.type is EventType.COMPLAINED:
        return Status.COMPLAINED
    if event.type is EventType.BOUNCED and event.bounce is BounceKind.HARD:
        return Status.BOUNCED
    return None


async def ingest(
    target: AsyncEngine | AsyncConnection,
    events: Sequence[ProviderEvent],
    *,
    now: datetime | None = None,
    tenant_id: uuid.UUID | None = None,
) -> IngestResult:
    """Store and apply `events` in one transaction (the caller's, when given a connection).

    `tenant_id` restricts matching to that tenant's messages (events from a tenant's own provider account).
    """
    now = now or datetime.now(UTC)
    if isinstance(target, AsyncEngine):
        async with target.begin() as conn:
            return await _ingest(conn, events, now, tenant_id)
    return await _ingest(target, events, now, tenant_id)


async def _ingest(
    conn: AsyncConnection, events: Sequence[ProviderEvent], now: datetime, tenant_id: uuid.UUID | None
) -> IngestResult:
    unique: dict[tuple[str, str], ProviderEvent] = {}
    for event in events:
        unique.setdefault((event.provider, event.event_id), event)
    provider_ids = sorted({p for e in unique.values() if (p := normalize_msg_id(e.provider_message_id))})
    ids = sorted({e.message_id for e in unique.values() if e.message_id})
    candidates = await repository.lock_candidates(conn, provider_ids, ids, tenant_id) if unique else []
    by_id = {row["id"]: row for row in candidates}
    by_provider_id = {row["provider_msg_id"]: row for row in candidates if row["provider_msg_id"]}

    matches: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
    rows = []
    for key, event in unique.items():
        message = _match(event, by_id, by_provider_id)
        if message is not None:
            matches[key] = message
        rows.append(
            repository.event_row(
                provider=event.provider,
                event_id=event.event_id,
                tenant_id=message[0]["tenant_id"] if message else None,
                message_id=message[0]["id"] if message else None,
                provider_msg_id=normalize_msg_id(event.provider_message_id),
                type_=event.type.value,
                recipient=event.recipient,
                bounce=event.bounce.value if event.bounce else None,
                diagnostic=event.diagnostic,
                occurred_at=event.occurred_at,
                raw=_jsonable(event.raw),
            )
        )
    # In key order, so two requests inserting overlapping events take the unique index's locks in one order.
    rows.sort(key=lambda r: (r["provider"], r["event_id"]))
    inserted = await repository.insert_events(conn, rows, now)
    fresh = [(unique[k], matches[k]) for k in unique if k[1] in inserted and k in matches]
    changes = await _apply(conn, fresh, now)
    return IngestResult(
        received=len(events),
        stored=len(inserted),
        duplicates=len(events) - len(inserted),
        matched=len(fresh),
        status_changes=changes,
    )


def _match(
    event: ProviderEvent, by_id: Mapping[uuid.UUID, dict[str, Any]], by_provider_id: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any], str | None] | None:
    """The message an event is about, and which of its recipients: by provider message id (or IEP's own id where
    the event carries it), then the recipient must be one the message was sent to."""
    message = by_id.get(event.message_id) if event.message_id else None
    if message is None:
        message = by_provider_id.get(normalize_msg_id(event.provider_message_id) or "")
    if message is None:
        return None
    recipients = {a.lower() for a in (*message["to"], *(message["cc"] or ()), *(message["bcc"] or ()))}
    recipient = event.recipient.lower() if event.recipient else None
    if recipient is None:
        # An event about the whole message names its recipient only when there is just one.
        return message, next(iter(recipients)) if len(recipients) == 1 else None
    return (message, recipient) if recipient in recipients else None


async def _apply(
    conn: AsyncConnection, fresh: list[tuple[ProviderEvent, tuple[dict[str, Any], str | None]]], now: datetime
) -> int:
    message_ids = sorted({m["id"] for _, (m, _) in fresh})
    outcomes = await repository.recipient_outcomes(conn, message_ids)
    statuses = {m["id"]: Status(m["status"]) for _, (m, _) in fresh}
    changes = 0
    for event, (message, recipient) in sorted(fresh, key=lambda pair: pair[0].occurred_at):
        mid = message["id"]
        outcome = feedback_outcome(event)
        if outcome is None or recipient is None:
            activity = _ACTIVITY.get(event.type)
            if activity is not None:
                await repository.record_activity(conn, mid, activity, now, _payload(event, recipient))
            continue
        if not feedback_moves(outcomes.get((mid, recipient)), outcome):
            continue  # a late or repeated outcome: stored above, changes nothing
        outcomes[(mid, recipient)] = outcome
        previous = statuses[mid]
        mine = [o for (m, _), o in outcomes.items() if m == mid]
        statuses[mid] = derived_message_status(previous, mine)
        await repository.record_feedback(
            conn,
            tenant_id=message["tenant_id"],
            message_id=mid,
            recipient=recipient,
            event=event.type,
            bounce=event.bounce,
            diagnostic=event.diagnostic,
            provider=event.provider,
            provider_event_id=event.event_id,
            outcome=outcome,
            previous_status=previous,
            message_status=statuses[mid],
            now=now,
        )
        # Same transaction: the tenant hears of it (F4) and an address that bounced hard enough, or complained, is
        # never mailed again (F3) — or neither happens and the provider's retry brings the event back.
        await tenant_webhooks.emit(
            conn,
            tenant_id=message["tenant_id"],
            message_id=mid,
            event_type=f"message.{outcome.value}",
            data={
                "recipient": recipient,
                "bounceType": event.bounce.value if event.bounce else None,
                "diagnostic": event.diagnostic,
                "providerEventId": event.event_id,
            },
            now=now,
        )
        await suppressions.record_feedback(
            conn,
            tenant_id=message["tenant_id"],
            email=recipient,
            event=event.type,
            bounce=event.bounce,
            now=now,
            message_id=mid,
            diagnostic=event.diagnostic,
        )
        changes += 1
    return changes


def _payload(event: ProviderEvent, recipient: str | None) -> dict[str, Any]:
    return {
        "recipient": recipient,
        "bounce": event.bounce.value if event.bounce else None,
        "diagnostic": event.diagnostic,
        "provider": event.provider,
        "providerEventId": event.event_id,
    }


def _jsonable(raw: Mapping[str, Any]) -> Any:
    return orjson.loads(orjson.dumps(raw, default=str))


# -- where the secrets come from -------------------------------------------------------------------------


def credentials_from_settings(settings: Settings) -> WebhookCredentials:
    return WebhookCredentials(
        ses_topic_arns=_arns(settings.ses_webhook_topic_arns),
        sendgrid_public_key=settings.sendgrid_webhook_public_key or None,
        mailgun_signing_key=settings.mailgun_webhook_signing_key or None,
        postmark_user=settings.postmark_webhook_user or None,
        postmark_password=settings.postmark_webhook_password or None,
        resend_secret=settings.resend_webhook_secret or None,
    )


def credentials_from_account(config: Mapping[str, Any]) -> WebhookCredentials:
    """A tenant account's `webhook_*` keys (see docs/feedback.md), beside its sending credentials."""

    def text(key: str) -> str | None:
        value = config.get(key)
        return str(value) if value else None

    return WebhookCredentials(
        ses_topic_arns=_arns(text("webhook_topic_arns")),
        sendgrid_public_key=text("webhook_public_key"),
        mailgun_signing_key=text("webhook_signing_key"),
        postmark_user=text("webhook_user"),
        postmark_password=text("webhook_password"),
        resend_secret=text("webhook_secret"),
    )


@dataclass(frozen=True, slots=True)
class AccountCredentials:
    tenant_id: uuid.UUID
    credentials: WebhookCredentials


async def account_credentials(
    conn: AsyncConnection, keyring: KeyRing | None, provider: str, account_id: uuid.UUID
) -> AccountCredentials | None:
    """The webhook secrets of a tenant's own `provider` account; None when there is no such account."""
    row = await repository.account(conn, account_id)
    if row is None or row["kind"] != provider or keyring is None:
        return None
    try:
        plain = keyring.decrypt(row["config_encrypted"], context=tenant_provider_context(row["tenant_id"], row["name"]))
        config = orjson.loads(plain)
    except (CryptoError, orjson.JSONDecodeError):
        return None
    return AccountCredentials(row["tenant_id"], credentials_from_account(config))


def _arns(value: str | None) -> frozenset[str]:
    return frozenset(a.strip() for a in (value or "").split(",") if a.strip())
