"""The accept flow every way in shares (API send, batch, Resend facade, SMTP submission): validate, count against
the tenant's limits, commit durably, answer. Transport-free: callers turn results and problems into their own
wire format (HTTP problem+json, Resend's JSON errors, SMTP reply codes)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iep.kit.problems import Problem, QuotaExceeded, RateLimited, ValidationFailed
from iep.messages import service
from iep.messages.schemas import SendRequest, shared_template_checks
from iep.tenancy.context import TenantContext

if TYPE_CHECKING:
    from iep.bootstrap import Container

MAX_BATCH = 500
# Items validated between two yields to the event loop (about 10 ms of CPU).
YIELD_EVERY = 32


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One message of a batch, in request order: its accept (or replay) or the problem that stopped it."""

    index: int
    result: service.AcceptResult | None = None
    problem: Problem | None = None


async def submit(
    container: Container,
    ctx: TenantContext,
    payload: Any,
    *,
    model: type[SendRequest] = SendRequest,
    idempotency_header: str | None = None,
) -> tuple[service.AcceptResult, dict[str, str]]:
    """One message: the accept (or the replay of an earlier one) and the rate-limit headers to answer with."""
    parsed = service.parse_send(
        payload,
        ctx,
        container.limits,
        container.clock.now(),
        model=model,
        idempotency_header=idempotency_header,
        templates=container.renderer.catalog,
    )
    await service.check_large_templates(container.renderer, parsed)
    try:
        # Counted after validation (a refused body takes nothing) and given back if the insert fails or replays.
        async with container.tenant_limiter.reserve(ctx, 1) as grant:
            result = await service.accept_message(
                container.engine,
                ctx,
                parsed,
                container.limits,
                container.clock,
                store=container.attachment_store,
                group=container.accept_group,
                into_queue=container.accepts_into_queue,
            )
            if result.replayed:
                grant.unused = 1  # the first request counted this message
        return result, grant.headers
    except (RateLimited, QuotaExceeded):
        # A retry of a message already accepted gets its original answer even at the limit: a 429 would tell the
        # client that a message it sent was not accepted (for a quota, until next month).
        replay = await service.replay_of(container.engine, ctx, parsed)
        if replay is None:
            raise
        return replay, {}


def batch_payloads(payload: Any) -> list[Any]:
    """`{"messages": [...]}` with 1 to 500 items, else one 422 for the whole body."""
    problem = None
    if not isinstance(payload, dict):
        problem = ("", "", "type", "must be a JSON object")
    elif set(payload) - {"messages"}:
        extra = sorted(set(payload) - {"messages"})[0]
        problem = (extra, f"/{extra}", "extra_forbidden", "Extra inputs are not permitted")
    elif not isinstance(payload.get("messages"), list):
        problem = ("messages", "/messages", "type", "must be a list of messages")
    elif not 1 <= len(payload["messages"]) <= MAX_BATCH:
        problem = ("messages", "/messages", "length", f"must hold 1 to {MAX_BATCH} messages")
    if problem is not None:
        field, pointer, code, message = problem
        raise ValidationFailed([{"field": field, "pointer": pointer, "code": code, "message": message}])
    items: list[Any] = payload["messages"]
    return items


async def submit_batch(
    container: Container,
    ctx: TenantContext,
    payloads: list[Any],
    *,
    idempotency_header: str | None = None,
    model: type[SendRequest] = SendRequest,
    where: str = "messages",
    convert: Callable[[Any], Awaitable[Any]] | None = None,
    strict: bool = False,
) -> tuple[list[BatchItem], dict[str, str]]:
    """Many messages: each validated on its own, the valid ones counted and committed together (A7).

    With a batch Idempotency-Key, an item without its own key gets `<key>:<index>`, so a retried batch replays
    item by item. `where` names the items' list in field paths (`messages[3].to[0]`, `/messages/3/to/0`; empty
    for a body that is the list itself). `convert` turns another wire shape into a send body (raising
    ValidationFailed); `strict`: one invalid item refuses the whole batch with every item's errors in one 422.
    """
    header = service.check_header_key(idempotency_header) if idempotency_header is not None else None
    now = container.clock.now()
    items: list[BatchItem] = []
    valid: list[tuple[int, SendRequest]] = []
    with shared_template_checks():
        for index, payload in enumerate(payloads):
            if index and not index % YIELD_EVERY:
                await asyncio.sleep(0)  # other requests of this process get the loop between slices of a batch
            try:
                if convert is not None:
                    payload = await convert(payload)
                own_key = isinstance(payload, dict) and payload.get("idempotencyKey") is not None
                parsed = service.parse_send(
                    payload,
                    ctx,
                    container.limits,
                    now,
                    model=model,
                    idempotency_header=None if header is None or own_key else item_key(header, index),
                    templates=container.renderer.catalog,
                )
                await service.check_large_templates(container.renderer, parsed)
            except ValidationFailed as exc:
                items.append(BatchItem(index, problem=_located(exc, where, index)))
                continue
            valid.append((index, parsed))
    if strict and items:
        raise ValidationFailed(
            [e for item in items if isinstance(item.problem, ValidationFailed) for e in item.problem.errors]
        )
    if not valid:
        return items, {}
    requests = [request for _, request in valid]
    results: list[service.AcceptResult | Problem]
    try:
        async with container.tenant_limiter.reserve(ctx, len(requests)) as grant:
            results = await service.accept_batch(
                container.engine,
                container.driver,
                ctx,
                requests,
                container.limits,
                container.clock,
                store=container.attachment_store,
                into_queue=container.accepts_into_queue,
            )
            # Replays were counted by their first request, and a refused item takes nothing.
            grant.unused = sum(not isinstance(r, service.AcceptResult) or r.replayed for r in results)
        headers = grant.headers
    except (RateLimited, QuotaExceeded):
        replays = [await service.replay_of(container.engine, ctx, request) for request in requests]
        if any(replay is None for replay in replays):
            raise  # as for one message, only a batch that was accepted before is answered at the limit
        results, headers = [r for r in replays if r is not None], {}
    for (index, _), outcome in zip(valid, results, strict=True):
        if isinstance(outcome, service.AcceptResult):
            items.append(BatchItem(index, result=outcome))
        else:
            items.append(BatchItem(index, problem=outcome))
    items.sort(key=lambda item: item.index)
    return items, headers


def item_key(header: str, index: int) -> str:
    """The Idempotency-Key of a batch's item; a long batch key is shortened to its digest to fit 255 characters."""
    key = f"{header}:{index}"
    return key if len(key) <= 255 else f"{hashlib.sha256(header.encode()).hexdigest()}:{index}"


def _located(problem: ValidationFailed, where: str, index: int) -> ValidationFailed:
    """The item's field errors with paths into the whole batch body."""
    errors = []
    base, pointer = f"{where}[{index}]", f"/{where}/{index}" if where else f"/{index}"
    for error in problem.errors:
        field = error.get("field", "")
        if field and not field.startswith("Idempotency-Key"):
            field = base + ("" if field.startswith("[") else ".") + field
        elif not field:
            field = base
        errors.append({**error, "field": field, "pointer": pointer + error.get("pointer", "")})
    return ValidationFailed(errors)
