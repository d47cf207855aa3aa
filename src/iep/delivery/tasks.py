"""The send step of one email (D-1): claim → render → choose provider → send → record.

It is idempotent on the message id (D6): a redelivered job for a message that is already sent, failed,
canceled or held by a live worker sends nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.delivery import repository
from iep.delivery.retry_policy import RetryPolicy
from iep.delivery.routing import ProviderRouter
from iep.kit.clock import Clock
from iep.messages.status import FINAL, Status
from iep.providers.base import Address, OutgoingEmail, ProviderError
from iep.providers.mime import HeaderInjectionError
from iep.rendering import handlebars
from iep.rendering.text import text_from_html

log = structlog.get_logger("iep.delivery")


class Outcome(Enum):
    DONE = "done"  # ack the job
    RETRY = "retry"  # hand the job back at `at`
    DEAD = "dead"  # move the job to the dead-letter queue


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryDeps:
    engine: AsyncEngine
    router: ProviderRouter
    clock: Clock
    policy: RetryPolicy
    lease: timedelta
    worker_id: str


class RenderFailed(Exception):
    pass


def render(row: dict[str, Any]) -> tuple[str, str | None, str | None]:
    variables = row["variables"] or {}
    try:
        subject = handlebars.render(row["subject"], variables)
        html = handlebars.render(row["html_body"], variables) if row["html_body"] is not None else None
        text = handlebars.render(row["text_body"], variables) if row["text_body"] is not None else None
    except handlebars.TemplateSyntaxError as exc:
        raise RenderFailed(f"template error: {exc}") from None
    if text is None and html is not None:
        text = text_from_html(html)
    return subject.strip(), html, text


def outgoing(row: dict[str, Any], rendered: tuple[str, str | None, str | None]) -> OutgoingEmail:
    subject, html, text = rendered
    return OutgoingEmail(
        message_id=row["id"],
        tenant_id=row["tenant_id"],
        sender=Address(row["from_email"], row["from_name"]),
        to=tuple(row["to"]),
        cc=tuple(row["cc"] or ()),
        bcc=tuple(row["bcc"] or ()),
        reply_to=row["reply_to"],
        subject=subject,
        html=html,
        text=text,
        headers=row["headers"] or {},
    )


async def deliver_message(deps: DeliveryDeps, message_id: uuid.UUID) -> Decision:
    now = deps.clock.now()
    async with deps.engine.connect() as pooled:
        # The claim is one statement: autocommit makes it one round trip instead of BEGIN + claim + COMMIT.
        conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        row = await repository.claim(conn, message_id, deps.worker_id, now, deps.lease)
        if row is None:
            state = await repository.current(conn, message_id)
    if row is None:
        return _not_claimed(state, now)

    bound = log.bind(message_id=str(message_id), tenant_id=str(row["tenant_id"]), attempt=row["attempts"])
    try:
        rendered = render(row)
        email = outgoing(row, rendered)
    except RenderFailed as exc:
        return await _fail(deps, row, str(exc), None, "render_error", None, dead=False)
    provider = deps.router.choose(row)
    try:
        result = await provider.send(email)
    except HeaderInjectionError as exc:
        return await _fail(deps, row, str(exc), None, "header_injection", provider.name, dead=False)
    except ProviderError as exc:
        bound.warning("send_failed", provider=provider.name, transient=exc.transient, code=exc.code, error=str(exc))
        if not exc.transient:
            return await _fail(deps, row, str(exc), exc.code, "permanent", provider.name, dead=False)
        if row["attempts"] >= row["max_attempts"]:
            return await _fail(deps, row, str(exc), exc.code, "max_attempts", provider.name, dead=True)
        at = deps.clock.now() + timedelta(seconds=deps.policy.delay_after(row["attempts"]))
        async with deps.engine.begin() as conn:
            await repository.record_retry(
                conn,
                message_id,
                deps.worker_id,
                deps.clock.now(),
                at=at,
                attempt=row["attempts"],
                error=str(exc),
                code=exc.code,
                provider=provider.name,
            )
        return Decision(Outcome.RETRY, at)
    async with deps.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await repository.record_sent(
            autocommit,
            message_id,
            deps.clock.now(),
            provider=result.provider,
            provider_message_id=result.provider_message_id,
            response=result.response,
            rendered=rendered,
        )
    bound.info("sent", provider=result.provider)
    return Decision(Outcome.DONE)


def _not_claimed(state: dict[str, Any] | None, now: datetime) -> Decision:
    if state is None or Status(state["status"]) in FINAL:
        return Decision(Outcome.DONE)
    if state["status"] == Status.PROCESSING.value and state["lease_until"]:
        return Decision(Outcome.RETRY, state["lease_until"])  # look again when that lease runs out
    if state["next_attempt_at"] and state["next_attempt_at"] > now:
        return Decision(Outcome.RETRY, state["next_attempt_at"])
    return Decision(Outcome.DONE)


async def _fail(
    deps: DeliveryDeps,
    row: dict[str, Any],
    error: str,
    code: int | None,
    reason: str,
    provider: str | None,
    *,
    dead: bool,
) -> Decision:
    async with deps.engine.begin() as conn:
        await repository.record_failed(
            conn,
            row["id"],
            deps.worker_id,
            deps.clock.now(),
            error=error,
            code=code,
            reason=reason,
            provider=provider,
            dead_letter=dead,
        )
    log.warning("failed", message_id=str(row["id"]), reason=reason, error=error[:300])
    return Decision(Outcome.DEAD if dead else Outcome.DONE)
