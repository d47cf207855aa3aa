"""HTTP for messages: A1 send (+ `/v1/send`), A4 get, A5 list, A6 retry and cancel. HTTP only."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BeforeValidator

from iep.api.auth import require
from iep.api.body import read_json
from iep.api.params import path_id
from iep.messages import intake, service
from iep.messages.repository import ListFilter
from iep.messages.schemas import (
    Accepted,
    BatchItemOut,
    BatchOut,
    BatchRequest,
    MessageOut,
    MessagePage,
    SendAlias,
    SendRequest,
)
from iep.tenancy.context import TenantContext

log = structlog.get_logger("iep.api")
router = APIRouter(prefix="/v1", tags=["messages"])


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    """Only an RFC 3339 date-time with its offset, as documented: not a number read as a Unix time, not naive."""
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-03-01T09:00:00Z")
    return value


QueryTime = Annotated[datetime, BeforeValidator(_rfc3339)]

# Query text: no NUL or other control character (PostgreSQL refuses NUL in text; nothing IEP stores has them).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON or query",
        401: "Missing or invalid API key",
        403: "Scope missing or tenant suspended",
        404: "No such message for this tenant",
        409: "The message's state does not allow this",
        413: "Body too large",
        415: "Not JSON",
        422: "Invalid fields (every error listed) or Idempotency-Key reused with another body",
        429: "The tenant's rate limit (`rate-limited`) or monthly quota (`quota-exceeded`) is reached, or too many API"
        " key verifications for this key prefix or client address (`too-many-auth-attempts`); see Retry-After",
        503: "The shared limit counters (Redis) did not answer, or no render process is free to check a large"
        " template; retry (Retry-After)",
    }.items()
}


def _send_doc(model: type[SendRequest]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(by_alias=True)}},
        }
    }


# The two send routes authenticate in the handler rather than through `Depends(require("send"))` as the other
# routes do (the Resend facade does the same): FastAPI's solving of that one dependency cost ~20 µs of CPU per
# accept, 4 % of the request IEP answers most. The key is still checked before the body is read.
_require_send = require("send")


async def _send(request: Request, model: type[SendRequest]) -> Response:
    ctx = await _require_send(request)
    container = request.app.state.container
    payload = await read_json(request, container.settings.max_body_bytes)
    result, limit_headers = await intake.submit(
        container, ctx, payload, model=model, idempotency_header=request.headers.get("idempotency-key")
    )
    headers = {"Location": f"/v1/messages/{result.accepted.message_id}", **limit_headers}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    # The line that starts a message's story in the logs: its id, tenant and trace (O2, SPEC §3).
    log.info("accepted", message_id=str(result.accepted.message_id), tenant_id=str(ctx.tenant_id),
             replayed=result.replayed)  # fmt: skip
    # Serialised by pydantic in one step: the same bytes as JSONResponse's json.dumps of a model_dump, at half the CPU.
    body = result.accepted.model_dump_json(by_alias=True)
    return Response(body, status_code=202, headers=headers, media_type="application/json")


@router.post(
    "/messages",
    status_code=202,
    response_model=Accepted,
    responses=_PROBLEMS,
    openapi_extra=_send_doc(SendRequest),
    summary="Send a message",
)
async def send_message(request: Request) -> Response:
    return await _send(request, SendRequest)


@router.post(
    "/send",
    status_code=202,
    response_model=Accepted,
    responses=_PROBLEMS,
    openapi_extra=_send_doc(SendAlias),
    summary="Send a message (seeds 000–002 alias; `props` are the variables)",
)
async def send_alias(request: Request) -> Response:
    return await _send(request, SendAlias)


@router.post(
    "/messages/batch",
    response_model=BatchOut,
    responses=_PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BatchRequest.model_json_schema(by_alias=True)}},
        }
    },
    summary="Send up to 500 messages; each is validated on its own, the results come in request order",
)
async def send_batch(request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]) -> Response:
    container = request.app.state.container
    payload = await read_json(request, container.settings.max_body_bytes)
    items, limit_headers = await intake.submit_batch(
        container, ctx, intake.batch_payloads(payload), idempotency_header=request.headers.get("idempotency-key")
    )
    accepted = [item.result for item in items if item.result is not None]
    out = BatchOut(
        data=[_batch_item(item, request.url.path) for item in items],
        accepted=len(accepted),
        rejected=len(items) - len(accepted),
    )
    headers = dict(limit_headers)
    if accepted and all(result.replayed for result in accepted):
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(out.model_dump(mode="json", by_alias=True, exclude_none=True), headers=headers)


def _batch_item(item: intake.BatchItem, path: str) -> BatchItemOut:
    if item.result is not None:
        accepted = item.result.accepted
        return BatchItemOut(
            index=item.index,
            status=accepted.status,
            messageId=accepted.message_id,
            suppressedRecipients=accepted.suppressed_recipients,
            replayed=item.result.replayed,
        )
    assert item.problem is not None
    return BatchItemOut(index=item.index, status="rejected", problem=item.problem.body(instance=path))


def _message_out(row: dict[str, Any], with_events: bool) -> MessageOut:
    return MessageOut.model_validate(
        {
            "messageId": row["id"],
            "status": row["status"],
            "to": row["to"],
            "cc": row["cc"] or [],
            "bcc": row["bcc"] or [],
            "from": {"email": row["from_email"], "name": row["from_name"]},
            "replyTo": row["reply_to"],
            "subject": row["rendered_subject"] or row["subject"],
            "provider": row["provider"],
            "providerMessageId": row["provider_msg_id"],
            "priority": row["priority"],
            "tags": row["tags"],
            "metadata": row["metadata"],
            "headers": row["headers"],
            "template": row["template"],
            "attempts": row["attempts"],
            "maxAttempts": row["max_attempts"],
            "lastError": row["last_error"],
            "idempotencyKey": row["idempotency_key"],
            "scheduledAt": row["scheduled_at"],
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "sentAt": row["sent_at"],
            "traceId": row.get("trace_id"),
            "attachments": (
                [
                    {
                        "filename": a["filename"],
                        "contentType": a["content_type"],
                        "size": a["size_bytes"],
                        "contentId": a["content_id"],
                    }
                    for a in row["attachments"]
                ]
                if with_events
                else None
            ),
            "events": (
                [{"type": e["type"], "timestamp": e["created_at"], "payload": e["payload"]} for e in row["events"]]
                if with_events
                else None
            ),
        }
    )


@router.get(
    "/messages/{message_id}",
    response_model=MessageOut,
    responses=_PROBLEMS,
    summary="A message and its events",
)
async def get_message(
    message_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]
) -> MessageOut:
    container = request.app.state.container
    row = await service.get_message(container.engine, ctx, path_id(message_id, "message"))
    return _message_out(row, with_events=True)


@router.get("/messages", response_model=MessagePage, responses=_PROBLEMS, summary="List messages, newest first")
async def list_messages(
    request: Request,
    ctx: Annotated[TenantContext, Depends(require("read"))],
    status: Annotated[
        Literal[
            "queued",
            "scheduled",
            "processing",
            "sent",
            "retry_scheduled",
            "failed",
            "bounced",
            "delivered",
            "complained",
            "suppressed",
            "canceled",
        ]
        | None,
        Query(),
    ] = None,
    recipient: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=254,
            pattern=_PRINTABLE,
            alias="to",
            description="An exact recipient address (to, cc or bcc), compared case-insensitively",
        ),
    ] = None,
    date_from: Annotated[QueryTime | None, Query(alias="dateFrom")] = None,
    date_to: Annotated[QueryTime | None, Query(alias="dateTo")] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=100, pattern=_PRINTABLE)] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=64, pattern=_PRINTABLE)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MessagePage:
    container = request.app.state.container
    flt = ListFilter(status, recipient, date_from, date_to, category, tag)
    rows, next_cursor = await service.list_messages(
        container.engine, ctx, flt, limit=limit, offset=offset, cursor=cursor
    )
    return MessagePage(data=[_message_out(r, with_events=False) for r in rows], nextCursor=next_cursor, limit=limit)


@router.post(
    "/messages/{message_id}/retry",
    status_code=202,
    responses=_PROBLEMS,
    summary="Send a failed message again",
)
async def retry_message(
    message_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> dict[str, str]:
    container = request.app.state.container
    mid = path_id(message_id, "message")
    await service.retry_message(container.engine, ctx, mid, container.clock)
    return {"messageId": str(mid), "status": "queued"}


@router.post("/messages/{message_id}/cancel", responses=_PROBLEMS, summary="Cancel a queued or scheduled message")
async def cancel_message(
    message_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> dict[str, str]:
    container = request.app.state.container
    mid = path_id(message_id, "message")
    await service.cancel_message(container.engine, ctx, mid, container.clock)
    return {"messageId": str(mid), "status": "canceled"}


@router.get("/dlq", response_model=MessagePage, responses=_PROBLEMS, summary="The dead-letter queue, newest first")
async def list_dead_letters(
    request: Request,
    ctx: Annotated[TenantContext, Depends(require("read"))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MessagePage:
    container = request.app.state.container
    rows, next_cursor = await service.list_messages(
        container.engine, ctx, ListFilter(dead_lettered=True), limit=limit, offset=0, cursor=cursor
    )
    return MessagePage(data=[_message_out(r, with_events=False) for r in rows], nextCursor=next_cursor, limit=limit)


@router.get("/dlq/{message_id}", response_model=MessageOut, responses=_PROBLEMS, summary="A dead-lettered message")
async def get_dead_letter(
    message_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]
) -> MessageOut:
    container = request.app.state.container
    row = await service.get_dead_letter(container.engine, ctx, path_id(message_id, "message"))
    return _message_out(row, with_events=True)


@router.post(
    "/dlq/{message_id}/requeue",
    status_code=202,
    responses=_PROBLEMS,
    summary="Take a message out of the dead-letter queue and send it again",
)
async def requeue_dead_letter(
    message_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> dict[str, str]:
    container = request.app.state.container
    mid = path_id(message_id, "message")
    await service.requeue_dead_letter(container.engine, ctx, mid, container.clock)
    return {"messageId": str(mid), "status": "queued"}
