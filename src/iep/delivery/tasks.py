"""The send step of one email (D-1): claim → render → choose provider → send → record.

It is idempotent on the message id (D6): a redelivered job for a message that is already sent, failed,
canceled or held by a live worker sends nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import traceback
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import structlog
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.attachments import service as attachments
from iep.attachments.storage import AttachmentStore, StorageError
from iep.delivery import context as sending_context
from iep.delivery import repository
from iep.delivery import suppression as suppressions
from iep.delivery.batches import SendBatches
from iep.delivery.leases import LeaseKeeper
from iep.delivery.retry_policy import RetryPolicy
from iep.delivery.routing import ProviderRouter, Route
from iep.kit.clock import Clock
from iep.kit.crypto import CryptoError, KeyRing
from iep.messages.status import FINAL
from iep.messages.status import Status as MessageStatus
from iep.observability import metrics, tracing
from iep.providers.base import (
    Address,
    OutgoingEmail,
    PermanentProviderError,
    ProviderError,
    Ready,
    SendResult,
    TransientProviderError,
)
from iep.providers.mime import HeaderInjectionError, check_outgoing
from iep.rendering.errors import RenderError, RendererUnavailable
from iep.rendering.renderer import Rendered, Renderer

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
    renderer: Renderer
    # Claims, sending contexts and sent records, shared by the sends in flight (owned by `worker_id`).
    batches: SendBatches
    attachments: AttachmentStore | None = None
    keyring: KeyRing | None = None
    # A crash (a bug, data the code did not expect) is retried this many times in all, `crash_backoff` apart
    # and growing, then the message is dead-lettered with the exception: never a loop, never a hot spin.
    max_crashes: int = 3
    crash_backoff: timedelta = timedelta(seconds=5)
    # A suspended tenant's message is given back unsent and looked at again after this long (ADR 0006);
    # activation re-queues held messages at once, so this only bounds how often a hold is re-checked.
    hold: timedelta = timedelta(seconds=300)
    # Renews claims in progress and says when one was lost (fenced leases); None only in tests of the bare step.
    leases: LeaseKeeper | None = None


class LeaseLost(Exception):
    """This worker's claim ran out or was taken over before the provider call: it must not send."""


class TenantSuspendedHold(Exception):
    """The tenant is suspended: the message waits, it is neither sent nor failed (ADR 0006)."""


async def render(renderer: Renderer, row: dict[str, Any], *, tenant: str | None = None) -> Rendered:
    """In a render process under the hard timeout and `tenant`'s render budget; raises `RenderError` (permanent)
    or `RendererUnavailable` (the render processes, or the tenant's budget, are busy: later)."""
    if not row["template"]:
        return await renderer.inline(
            row["subject"], row["html_body"], row["text_body"], row["variables"], tenant=tenant
        )
    rendered = await renderer.named(row["template"], row["variables"], tenant=tenant)
    if row["subject"]:  # the caller's subject replaces the template's
        override = await renderer.inline(row["subject"], None, None, row["variables"], tenant=tenant)
        rendered = replace(rendered, subject=override.subject)
    elif not rendered.subject:
        # Accept checked that the template gives one: only its own code (a TSX function of props) can get here.
        raise RenderError(f"{row['template']}: the template gave an empty subject and the message has none")
    return rendered


def outgoing(row: dict[str, Any], rendered: Rendered) -> OutgoingEmail:
    subject, html, text = rendered.as_tuple()
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


async def deliver_message(deps: DeliveryDeps, message_id: uuid.UUID, traceparent: str | None = None) -> Decision:
    now = deps.clock.now()
    row = await deps.batches.claim(message_id)
    if row is None:
        async with deps.engine.connect() as conn:
            state = await repository.current(conn, message_id)
        return _not_claimed(state, now)
    # The message's trace goes on here: from the job (the relay's span), else from the message itself (O1).
    with tracing.tracer().start_as_current_span(
        "deliver",
        context=tracing.parent(traceparent, row.get("trace_id")),
        kind=SpanKind.CONSUMER,
        attributes={"iep.message_id": str(message_id), "iep.attempt": row["attempts"]},
    ):
        return await _deliver_claimed(deps, row)


async def _deliver_claimed(deps: DeliveryDeps, row: dict[str, Any]) -> Decision:
    message_id: uuid.UUID = row["id"]
    bound = log.bind(message_id=str(message_id), tenant_id=str(row["tenant_id"]), attempt=row["attempts"])
    if deps.leases is not None:
        deps.leases.hold(message_id, row["attempts"], row["lease_until"])
    try:
        return await _send_claimed(deps, row, bound)
    except (asyncio.CancelledError, OperationalError, DBAPIError):
        # Shutdown and a database gone mid-step are not the message's fault: the job comes back, the lease decides.
        raise
    except LeaseLost:
        bound.warning("lease_lost_before_send")
        return Decision(Outcome.RETRY, deps.clock.now() + deps.lease)  # the claim's new holder settles it
    except Exception as exc:
        bound.exception("deliver_crashed")
        return await _crashed(deps, row, exc)
    finally:
        if deps.leases is not None:
            deps.leases.release(message_id)


async def _send_claimed(deps: DeliveryDeps, row: dict[str, Any], bound: Any) -> Decision:
    message_id: uuid.UUID = row["id"]
    try:
        with tracing.tracer().start_as_current_span("render", attributes={"iep.template": row["template"] or ""}):
            rendered = await render(deps.renderer, row, tenant=str(row["tenant_id"]))
    except RenderError as exc:  # the same input fails the same way again: permanent (T4)
        return await _fail(deps, row, str(exc), None, exc.reason, None, dead=False)
    except RendererUnavailable as exc:
        return await _retry(deps, row, str(exc), None, None)
    email = outgoing(row, rendered)
    route: Route | None = None
    try:
        # Rendered values (a variable in the subject) are checked here once for every provider (docs/security.md).
        check_outgoing(email)
        email, route = await _prepare(deps, row, email)
        await _throttle(deps, route)
        result = await _provider_send(route, email, _still_held(deps, message_id))
    except TenantSuspendedHold:
        return await _hold(deps, row, "tenant_suspended")
    except suppressions.AllRecipientsSuppressed as exc:
        return await _suppressed(deps, row, exc.dropped)
    except HeaderInjectionError as exc:
        return await _fail(deps, row, str(exc), None, "header_injection", _name(route, exc), dead=False)
    except ProviderError as exc:
        if route is not None:
            # A refusal is an answer: only what says "not now" about the provider itself counts against its
            # circuit; a recipient's mailbox being full or greylisted says nothing about the provider.
            await deps.router.record(route, ok=not exc.transient or exc.about_recipients)
        provider_name = _name(route, exc)
        metrics.provider_error(provider_name, exc)  # metrics
        bound.warning("send_failed", provider=provider_name, transient=exc.transient, code=exc.code, error=str(exc))
        if not exc.transient:
            return await _fail(deps, row, str(exc), exc.code, "permanent", provider_name, dead=False)
        return await _retry(deps, row, str(exc), exc.code, provider_name)
    sent = repository.Sent(
        message_id,
        deps.clock.now(),
        provider=result.provider,
        provider_message_id=result.provider_message_id,
        response=result.response,
        rendered=rendered.as_tuple(),
        suppressed=suppressions.dropped(row, email),
        fence=row["attempts"],
    )
    if not await deps.batches.record_sent(sent):
        # Another worker claimed the message since: its record stands (fenced lease).
        bound.warning("record_refused", provider=result.provider, fence=row["attempts"])
        return Decision(Outcome.DONE)
    # Only after the record: the gap between the provider's "accepted" and our commit stays one round trip.
    await deps.router.record(route, ok=True)
    await metrics.message_outcome(deps.engine, row, "sent", result.provider, deps.clock.now())  # metrics
    bound.info("sent", provider=result.provider)
    return Decision(Outcome.DONE)


async def _crashed(deps: DeliveryDeps, row: dict[str, Any], exc: Exception) -> Decision:
    """Count the crash; retry it after a growing pause, or dead-letter the message once the bound is reached."""
    error = f"{type(exc).__name__}: {exc}"[:1000]
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    detail = {
        "exception": type(exc).__name__,
        "error": error,
        "at": f"{where.filename.rpartition('/src/')[2]}:{where.lineno}" if where else None,
    }
    async with deps.engine.begin() as conn:
        crashes = await repository.record_crash(conn, row["id"], deps.clock.now(), detail)
    if crashes >= deps.max_crashes:
        return await _fail(deps, row, error, None, "crashed", row.get("provider"), dead=True)
    at = deps.clock.now() + deps.crash_backoff * (4 ** (crashes - 1))
    async with deps.engine.begin() as conn:
        await repository.record_retry(
            conn,
            row["id"],
            deps.worker_id,
            deps.clock.now(),
            at=at,
            attempt=row["attempts"],
            error=error,
            code=None,
            provider=row.get("provider"),
            fence=row["attempts"],
        )
    return Decision(Outcome.RETRY, at)


def _still_held(deps: DeliveryDeps, message_id: uuid.UUID) -> Ready | None:
    """The provider's last look before the send's first byte: the claim must still be this worker's."""
    leases = deps.leases
    if leases is None:
        return None

    def ready() -> None:
        if not leases.still_held(message_id):
            raise LeaseLost()

    return ready


async def _provider_send(route: Route, email: OutgoingEmail, ready: Ready | None) -> SendResult:
    """The provider call in a span of its own, with the provider's answer (or its refusal's code) on it."""
    with tracing.tracer().start_as_current_span(
        "provider.send", kind=SpanKind.CLIENT, attributes={"iep.provider": route.provider.name}
    ) as span:
        try:
            result = await route.provider.send(email, ready=ready)
        except ProviderError as exc:
            span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            if exc.code is not None:
                span.set_attribute("iep.provider.response_code", exc.code)
            raise
        code = result.response.split(" ", 1)[0]
        if code.isdigit():
            span.set_attribute("iep.provider.response_code", int(code))
        span.set_attribute("iep.provider.message_id", result.provider_message_id)
        return result


async def _throttle(deps: DeliveryDeps, route: Route) -> None:
    """Wait for the provider's rate limit, at most half a lease: a longer wait goes back to the queue."""
    if not deps.router.throttles(route):
        return  # no rate to wait for: no timer to set up either
    try:
        async with asyncio.timeout(deps.lease.total_seconds() / 2):  # no task of its own, unlike wait_for
            await deps.router.throttle(route)
    except TimeoutError:
        raise TransientProviderError(f"{route.provider.name}: rate limit wait over half the lease") from None


def _name(route: Route | None, exc: ProviderError) -> str:
    return route.provider.name if route is not None else exc.provider


async def _prepare(deps: DeliveryDeps, row: dict[str, Any], email: OutgoingEmail) -> tuple[OutgoingEmail, Route]:
    """Suppressed recipients dropped; attachments, DKIM key and unsubscribe link added; the provider chosen (D-3)."""
    domain = row["from_email"].rpartition("@")[2]
    wanted = sending_context.wanted(row["tenant_id"], row["id"], domain, email.envelope_recipients)
    ctx = await deps.batches.context(wanted)
    if not ctx.tenant_active:  # read with the tenant's settings: no extra round trip
        raise TenantSuspendedHold()
    email = suppressions.without_suppressed(email, ctx.suppressed)  # before any attachment fetch or provider
    try:
        files = await attachments.fetch_all(deps.attachments, ctx.attachment_rows)
        dkim = ctx.dkim_key(row["tenant_id"], deps.keyring)
    except StorageError as exc:
        raise TransientProviderError(f"attachments unavailable: {exc}") from exc
    except CryptoError as exc:
        raise PermanentProviderError(f"the DKIM key cannot be opened: {exc}") from exc
    email = dataclasses.replace(email, attachments=files, dkim=dkim, list_unsubscribe=ctx.list_unsubscribe(row["id"]))
    route = await deps.router.route(row["tenant_id"], ctx.policy, ctx.own_providers)
    return email, route


async def _suppressed(deps: DeliveryDeps, row: dict[str, Any], dropped: list[str]) -> Decision:
    async with deps.engine.begin() as conn:
        await repository.record_suppressed(
            conn, row["id"], deps.worker_id, deps.clock.now(), dropped=dropped, fence=row["attempts"]
        )
    await metrics.message_outcome(deps.engine, row, "suppressed", None)  # metrics
    log.info("suppressed", message_id=str(row["id"]), recipients=len(dropped))
    return Decision(Outcome.DONE)


async def _hold(deps: DeliveryDeps, row: dict[str, Any], reason: str) -> Decision:
    """Give the message back unsent: no attempt counted, no provider touched, due again after `deps.hold`."""
    now = deps.clock.now()
    until = now + deps.hold
    async with deps.engine.begin() as conn:
        held = await repository.record_held(
            conn,
            row["id"],
            deps.worker_id,
            now,
            until=until,
            previous_status=row.get("previous_status"),
            reason=reason,
            fence=row["attempts"],
        )
    if not held:  # another worker took the message over meanwhile; its record stands
        return Decision(Outcome.DONE)
    log.info("held", message_id=str(row["id"]), tenant_id=str(row["tenant_id"]), reason=reason, until=until.isoformat())
    return Decision(Outcome.RETRY, until)


def _not_claimed(state: dict[str, Any] | None, now: datetime) -> Decision:
    if state is None or MessageStatus(state["status"]) in FINAL:
        return Decision(Outcome.DONE)
    if state["status"] == MessageStatus.PROCESSING.value and state["lease_until"]:
        return Decision(Outcome.RETRY, state["lease_until"])  # look again when that lease runs out
    if state["next_attempt_at"] and state["next_attempt_at"] > now:
        return Decision(Outcome.RETRY, state["next_attempt_at"])
    return Decision(Outcome.DONE)


async def _retry(
    deps: DeliveryDeps, row: dict[str, Any], error: str, code: int | None, provider: str | None
) -> Decision:
    if row["attempts"] >= row["max_attempts"]:
        return await _fail(deps, row, error, code, "max_attempts", provider, dead=True)
    at = deps.clock.now() + timedelta(seconds=deps.policy.delay_after(row["attempts"]))
    async with deps.engine.begin() as conn:
        await repository.record_retry(
            conn,
            row["id"],
            deps.worker_id,
            deps.clock.now(),
            at=at,
            attempt=row["attempts"],
            error=error,
            code=code,
            provider=provider,
            fence=row["attempts"],
        )
    await metrics.message_outcome(deps.engine, row, "retry_scheduled", provider)  # metrics
    return Decision(Outcome.RETRY, at)


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
            fence=row["attempts"],
        )
    await metrics.message_outcome(deps.engine, row, "dlq" if dead else "failed", provider)  # metrics
    log.warning("failed", message_id=str(row["id"]), reason=reason, error=error[:300])
    return Decision(Outcome.DEAD if dead else Outcome.DONE)
