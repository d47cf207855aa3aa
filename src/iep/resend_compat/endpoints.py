"""HTTP for the Resend-compatible facade (A11). Every answer, errors included, is application/json in Resend's
shape: the official SDKs refuse any other content type. HTTP only; the accept is `messages.intake`'s."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from iep.api.auth import presented_key, require
from iep.api.body import read_json
from iep.api.params import path_id
from iep.kit.problems import NotFound, Problem, ValidationFailed
from iep.messages import intake
from iep.messages import service as messages
from iep.resend_compat import remote, service
from iep.resend_compat.schemas import BatchCreated, Created, EmailOut, ResendError, SendEmail

log = structlog.get_logger("iep.api")
router = APIRouter(tags=["resend-compatible"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "model": ResendError}
    for code, text in {
        400: "Malformed JSON (`validation_error`)",
        401: "No API key (`missing_api_key`)",
        403: "Wrong API key (`invalid_api_key`), missing scope or suspended tenant",
        404: "No such email for this tenant (`not_found`)",
        409: "Idempotency-Key reused with another body, or its first request still running",
        413: "Body too large",
        415: "Not JSON",
        422: "Invalid or unsupported fields (`validation_error`, `missing_required_field`)",
        429: "Rate limit or monthly quota (`rate_limit_exceeded`, `monthly_quota_exceeded`); see Retry-After",
        500: "Internal error (`application_error`)",
        503: "Limits or renderer unavailable for a moment (`application_error`); retry",
    }.items()
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _answer(request: Request, handler: Callable[[], Awaitable[Response]]) -> Response:
    """Run `handler`; a problem becomes Resend's error body (its headers, e.g. Retry-After, kept)."""
    try:
        return await handler()
    except Problem as problem:
        status, body = service.error_body(problem, key_presented=presented_key(request) is not None)
        return JSONResponse(body, status_code=status, headers=problem.headers)
    except Exception:
        log.exception("unhandled_error", path=request.url.path)
        body = {"statusCode": 500, "name": "application_error", "message": "Internal error"}
        return JSONResponse(body, status_code=500)


@router.post(
    "/emails",
    response_model=Created,
    responses=_ERRORS,
    openapi_extra=_body_doc(SendEmail.model_json_schema(by_alias=True)),
    summary="Send an email (Resend-compatible)",
)
async def send_email(request: Request) -> Response:
    async def handle() -> Response:
        ctx = await require("send")(request)
        container = request.app.state.container
        body = await read_json(request, container.settings.max_body_bytes)
        payload = service.to_send_payload(await remote.resolve_paths(container.webhook_guard(), body))
        result, headers = await intake.submit(
            container, ctx, payload, idempotency_header=request.headers.get("idempotency-key")
        )
        return JSONResponse({"id": str(result.accepted.message_id)}, headers=headers)

    return await _answer(request, handle)


@router.post(
    "/emails/batch",
    response_model=BatchCreated,
    responses=_ERRORS,
    openapi_extra={
        **_body_doc({"type": "array", "items": SendEmail.model_json_schema(by_alias=True)}),
        "parameters": [
            {
                "name": "x-batch-validation",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "enum": ["strict", "permissive"]},
                "description": "`strict` (default): one invalid email refuses the batch; `permissive`: the valid"
                " ones are sent and `errors` lists the others",
            }
        ],
    },
    summary="Send up to 500 emails (Resend-compatible)",
)
async def send_email_batch(request: Request) -> Response:
    async def handle() -> Response:
        ctx = await require("send")(request)
        container = request.app.state.container
        mode = request.headers.get("x-batch-validation", "strict").strip().lower()
        if mode not in ("strict", "permissive"):
            raise ValidationFailed(
                [{"field": "x-batch-validation", "pointer": "", "code": "header", "message": "strict or permissive"}]
            )
        payload = await read_json(request, container.settings.max_body_bytes)
        guard = container.webhook_guard()

        async def convert(email: Any) -> dict[str, Any]:
            return service.to_send_payload(await remote.resolve_paths(guard, email))

        items, headers = await intake.submit_batch(
            container,
            ctx,
            intake.batch_payloads({"messages": payload}) if isinstance(payload, list) else _not_a_list(),
            idempotency_header=request.headers.get("idempotency-key"),
            where="",
            convert=convert,
            strict=mode == "strict",
        )
        body: dict[str, Any] = {
            "data": [{"id": str(item.result.accepted.message_id)} for item in items if item.result is not None]
        }
        if mode == "permissive":
            body["errors"] = [
                {"index": item.index, "message": _item_message(item.problem)}
                for item in items
                if item.problem is not None
            ]
        return JSONResponse(body, headers=headers)

    return await _answer(request, handle)


def _not_a_list() -> list[Any]:
    raise ValidationFailed([{"field": "", "pointer": "", "code": "type", "message": "must be a JSON array of emails"}])


def _item_message(problem: Problem | None) -> str:
    if isinstance(problem, ValidationFailed):
        return service.error_message(problem)
    return problem.detail or problem.title if problem is not None else ""


@router.get("/emails/{email_id}", response_model=EmailOut, responses=_ERRORS, summary="An email (Resend-compatible)")
async def get_email(email_id: str, request: Request) -> Response:
    async def handle() -> Response:
        ctx = await require("read")(request)
        container = request.app.state.container
        row = await messages.get_message(container.engine, ctx, path_id(email_id, "email"))
        return JSONResponse(service.email_out(row).model_dump(mode="json", by_alias=True))

    return await _answer(request, handle)


@router.api_route(
    "/emails/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def emails_not_supported(rest: str, request: Request) -> Response:
    """The rest of Resend's email API (list, update, cancel, receiving): a Resend-shaped refusal, not a 404 page."""

    async def handle() -> Response:
        raise NotFound(f"{request.method} /emails/{rest[:100]} is not part of IEP's Resend-compatible API")

    return await _answer(request, handle)
