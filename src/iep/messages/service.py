"""The accept side of one email: validate, then commit message + event + outbox together (D4, A1-A6)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.attachments import service as attachments
from iep.attachments.storage import AttachmentStore
from iep.kit.clock import Clock
from iep.kit.driver import Driver
from iep.kit.ids import uuid7
from iep.kit.problems import (
    Conflict,
    IdempotencyKeyReused,
    InvalidQuery,
    NotFound,
    Problem,
    ValidationFailed,
)
from iep.kit.problems import RendererUnavailable as RendererUnavailableProblem
from iep.messages import repository
from iep.messages.accept_limits import AcceptLimits
from iep.messages.group_commit import GroupCommit, write_many
from iep.messages.schemas import Accepted, SendRequest
from iep.messages.status import Status
from iep.messages.validation import problem_errors
from iep.observability import tracing
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.errors import RenderError, RendererUnavailable
from iep.rendering.renderer import Renderer
from iep.sending_domains.policy import SenderPolicy
from iep.templates.service import template_checks
from iep.tenancy.context import TenantContext

log = structlog.get_logger("iep.messages")


@dataclass(frozen=True, slots=True)
class AcceptResult:
    accepted: Accepted
    replayed: bool


def parse_send(
    payload: Any,
    ctx: TenantContext,
    limits: AcceptLimits,
    now: datetime,
    *,
    model: type[SendRequest] = SendRequest,
    idempotency_header: str | None = None,
    templates: TemplateCatalog | None = None,
) -> SendRequest:
    if not isinstance(payload, dict):
        raise ValidationFailed([{"field": "", "pointer": "", "code": "type", "message": "must be a JSON object"}])
    senders = SenderPolicy(ctx.sender_domains, ctx.verified_sender_domains, limits.require_verified_senders)
    context = {"senders": senders, "max_recipients": limits.max_recipients, "now": now}
    errors: list[dict[str, Any]] = []
    try:
        request = model.model_validate(payload, context=context)
    except ValidationError as exc:
        errors = problem_errors(exc)
    # Template checks run even when other fields failed, so one 422 lists every error (A2).
    qualified = None
    if templates is not None and isinstance(payload.get("template"), str):
        template_errors, qualified = template_checks(templates, ctx.tenant_slug, payload, model)
        errors += template_errors
    if errors:
        raise ValidationFailed(errors)
    if qualified is not None:
        request = request.model_copy(update={"template": qualified})
    if idempotency_header is not None:
        header_key = check_header_key(idempotency_header)
        if request.idempotency_key not in (None, header_key):
            raise ValidationFailed(
                [
                    {
                        "field": "idempotencyKey",
                        "pointer": "/idempotencyKey",
                        "code": "mismatch",
                        "message": "differs from the Idempotency-Key header",
                    }
                ]
            )
        request = request.model_copy(update={"idempotency_key": header_key})
    return request


async def check_large_templates(renderer: Renderer, request: SendRequest) -> None:
    """Parse the large inline Handlebars parts in a render process, so the event loop never holds a long parse.

    `parse_send` parses small parts itself; a 1 MiB part takes about a second of CPU, which on the loop would
    stall every other request of this process for that long.
    """
    parts = request.unchecked_templates
    if not parts:
        return
    try:
        errors = await renderer.check_inline(parts)
    except RenderError as exc:  # a timeout or a dead process: the part cannot be shown to parse
        errors = dict.fromkeys(parts, f"could not be checked: {exc}")
    except RendererUnavailable as exc:
        raise RendererUnavailableProblem(str(exc), headers={"Retry-After": "5"}) from None
    if errors:
        raise ValidationFailed(
            [
                {"field": field, "pointer": f"/{field}", "code": "template_syntax", "message": message}
                for field, message in sorted(errors.items())
            ]
        )


def check_header_key(value: str) -> str:
    if not 1 <= len(value) <= 255 or any(not 0x21 <= ord(c) <= 0x7E for c in value):
        raise ValidationFailed(
            [
                {
                    "field": "Idempotency-Key",
                    "pointer": "",
                    "code": "header",
                    "message": "Idempotency-Key must be 1–255 visible ASCII characters",
                }
            ]
        )
    return value


def request_hash(request: SendRequest) -> str:
    canonical = request.model_dump(mode="json", by_alias=True, exclude={"idempotency_key"})
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def accept_message(
    engine: AsyncEngine,
    ctx: TenantContext,
    request: SendRequest,
    limits: AcceptLimits,
    clock: Clock,
    trace_id: str | None = None,
    store: AttachmentStore | None = None,
    group: GroupCommit | None = None,
    *,
    into_queue: bool = False,
) -> AcceptResult:
    """Commit the message (sharing the commit with concurrent accepts when `group` is given), or replay.

    `into_queue`: the postgres queue's job is committed with the message, in place of an outbox row (ADR 0009).
    """
    digest = request_hash(request)
    message_id = uuid7()
    # Blobs first, then the one insert that commits message + attachments rows + event + outbox (ADR 0005).
    stored = await attachments.store_all(store, ctx.tenant_id, message_id, request.attachments)
    try:
        result = await _insert(
            engine, ctx, request, limits, clock, trace_id, digest, message_id, stored, group, into_queue
        )
    except BaseException:
        await attachments.discard(store, stored)
        raise
    if result.replayed:
        await attachments.discard(store, stored)  # the first request's files are the ones kept
    return result


async def _insert(
    engine: AsyncEngine,
    ctx: TenantContext,
    request: SendRequest,
    limits: AcceptLimits,
    clock: Clock,
    trace_id: str | None,
    digest: str,
    message_id: uuid.UUID,
    stored: tuple[dict[str, Any], ...],
    group: GroupCommit | None,
    into_queue: bool,
) -> AcceptResult:
    new = _new_message(ctx, request, limits, trace_id, digest, message_id, stored)
    params = repository.accept_params(new, clock.now(), into_queue=into_queue)
    if group is not None:
        row = await group.insert(params)
    else:
        # Autocommit: the one statement is its own transaction, one round trip, not BEGIN + statement + COMMIT.
        async with engine.connect() as pooled:
            conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
            row = await repository.insert_accepted(conn, params)
    if row is not None:
        return AcceptResult(_accepted(row), replayed=False)
    # ON CONFLICT waited for the first request's transaction to end, so its row is visible now.
    replay = await _replay(engine, ctx, request, digest)
    if replay is None:  # the first request rolled back between our statements: let the client retry
        raise Conflict("the first request with this Idempotency-Key did not complete; retry")
    return replay


def _new_message(
    ctx: TenantContext,
    request: SendRequest,
    limits: AcceptLimits,
    trace_id: str | None,
    digest: str,
    message_id: uuid.UUID,
    stored: tuple[dict[str, Any], ...],
) -> repository.NewMessage:
    return repository.NewMessage(
        tenant_id=ctx.tenant_id,
        to=request.to,
        cc=request.cc,
        bcc=request.bcc,
        from_email=request.sender.email,
        from_name=request.sender.name,
        reply_to=request.reply_to,
        subject=request.subject or "",
        html_body=request.html_body,
        text_body=request.text_body,
        variables=request.template_payload if request.template else request.variables,
        template=request.template,
        metadata=request.metadata,
        tags=request.tags,
        headers=request.headers,
        priority=request.priority,
        max_attempts=limits.max_attempts,
        idempotency_key=request.idempotency_key,
        request_hash=digest,
        # The request's span (the API's tracing middleware): its trace is the message's (O1).
        trace_id=trace_id or tracing.trace_id(),
        traceparent=tracing.traceparent(),
        scheduled_at=request.scheduled_at,
        id=message_id,
        attachments=stored,
    )


def _accepted(row: dict[str, Any]) -> Accepted:
    return Accepted(
        message_id=row["id"], status=row["status"], suppressed_recipients=list(row["suppressed_recipients"])
    )


async def accept_batch(
    engine: AsyncEngine,
    driver: Driver,
    ctx: TenantContext,
    requests: list[SendRequest],
    limits: AcceptLimits,
    clock: Clock,
    store: AttachmentStore | None = None,
    *,
    into_queue: bool = False,
) -> list[AcceptResult | Problem]:
    """Commit many messages together (A7); per message its accept, its replay, or the problem that stopped it."""
    if not requests:
        return []
    digests = [request_hash(r) for r in requests]
    ids = [uuid7() for _ in requests]
    stored: list[tuple[dict[str, Any], ...]] = []
    try:
        for message_id, request in zip(ids, requests, strict=True):
            stored.append(await attachments.store_all(store, ctx.tenant_id, message_id, request.attachments))
        now = clock.now()
        params = [
            repository.accept_params(_new_message(ctx, r, limits, None, d, i, s), now, into_queue=into_queue)
            for r, d, i, s in zip(requests, digests, ids, stored, strict=True)
        ]
        rows = await write_many(driver, params)
    except BaseException:
        for files in stored:
            await attachments.discard(store, files)
        raise
    results: list[AcceptResult | Problem] = []
    for request, digest, files, row in zip(requests, digests, stored, rows, strict=True):
        if isinstance(row, dict):
            results.append(AcceptResult(_accepted(row), replayed=False))
            continue
        await attachments.discard(store, files)
        if isinstance(row, Exception):
            log.error("batch_item_not_stored", error=repr(row), tenant_id=str(ctx.tenant_id))
            results.append(Problem("the message could not be stored; send it again"))
            continue
        try:
            replay = await _replay(engine, ctx, request, digest)
        except IdempotencyKeyReused as exc:
            results.append(exc)
            continue
        results.append(replay or Conflict("the first request with this Idempotency-Key did not complete; retry"))
    failures = [row for row in rows if isinstance(row, Exception)]
    if failures and len(failures) == len(rows):
        raise failures[0]  # nothing was stored (the database is away): the request fails as a whole
    return results


async def replay_of(engine: AsyncEngine, ctx: TenantContext, request: SendRequest) -> AcceptResult | None:
    """The original answer when `request` repeats an accepted one (same Idempotency-Key and body), else None."""
    if request.idempotency_key is None:
        return None
    return await _replay(engine, ctx, request, request_hash(request))


async def _replay(engine: AsyncEngine, ctx: TenantContext, request: SendRequest, digest: str) -> AcceptResult | None:
    assert request.idempotency_key is not None
    async with engine.connect() as conn:
        original = await repository.by_idempotency_key(conn, ctx.tenant_id, request.idempotency_key)
    if original is None:
        return None
    if original["request_hash"] != digest:
        raise IdempotencyKeyReused()
    first_status = (
        Status.SCHEDULED
        if original["scheduled_at"] and original["scheduled_at"] > original["created_at"]
        else Status.QUEUED
    )
    return AcceptResult(
        Accepted(
            message_id=original["id"],
            status=first_status.value,
            suppressed_recipients=list(original["suppressed_recipients"]),
        ),
        replayed=True,
    )


async def get_message(engine: AsyncEngine, ctx: TenantContext, message_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = await repository.get(conn, ctx.tenant_id, message_id)
        if row is None:
            raise NotFound("no such message")
        row["events"] = await repository.events_of(conn, message_id)
        row["attachments"] = await repository.attachments_of(conn, message_id)
    return row


def encode_cursor(created_at: datetime, message_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{message_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, ident = raw.split("|", 1)
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise InvalidQuery("the cursor is not one this API returned") from None


async def list_messages(
    engine: AsyncEngine,
    ctx: TenantContext,
    flt: repository.ListFilter,
    *,
    limit: int,
    offset: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    after = decode_cursor(cursor) if cursor else None
    async with engine.connect() as conn:
        rows = await repository.page(conn, ctx.tenant_id, flt, limit=limit + 1, offset=offset, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
    return rows, next_cursor


async def cancel_message(engine: AsyncEngine, ctx: TenantContext, message_id: uuid.UUID, clock: Clock) -> None:
    async with engine.begin() as conn:
        if await repository.cancel(conn, ctx.tenant_id, message_id, clock.now()):
            return
        row = await repository.get(conn, ctx.tenant_id, message_id)
    if row is None:
        raise NotFound("no such message")
    raise Conflict(f"a message in status `{row['status']}` cannot be canceled", currentStatus=row["status"])


async def retry_message(engine: AsyncEngine, ctx: TenantContext, message_id: uuid.UUID, clock: Clock) -> None:
    async with engine.begin() as conn:
        if await repository.requeue(conn, ctx.tenant_id, message_id, clock.now()):
            return
        row = await repository.get(conn, ctx.tenant_id, message_id)
    if row is None:
        raise NotFound("no such message")
    raise Conflict(f"only failed or bounced messages can be retried; this one is `{row['status']}`")


async def get_dead_letter(engine: AsyncEngine, ctx: TenantContext, message_id: uuid.UUID) -> dict[str, Any]:
    row = await get_message(engine, ctx, message_id)
    if row["dead_lettered_at"] is None:
        raise NotFound("this message is not in the dead-letter queue")
    return row


async def requeue_dead_letter(engine: AsyncEngine, ctx: TenantContext, message_id: uuid.UUID, clock: Clock) -> None:
    """D-8: out of the dead-letter queue, attempts reset, queued again (the same move as A6 retry)."""
    async with engine.begin() as conn:
        if await repository.requeue(conn, ctx.tenant_id, message_id, clock.now(), dead_lettered_only=True):
            return
    raise NotFound("this message is not in the dead-letter queue")
