"""HTTP for tenant webhooks (A10, F4): register, list, read, change, remove; the delivery log and replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from iep.api.auth import require
from iep.api.body import json_body_doc, parse_body
from iep.api.params import path_id
from iep.tenancy.context import TenantContext
from iep.tenant_webhooks import service, signing
from iep.tenant_webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
    EndpointOut,
    EndpointUpdate,
    Replayed,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON or query",
        401: "Missing or invalid API key",
        403: "Scope missing or tenant suspended",
        404: "No such webhook endpoint or delivery for this tenant",
        409: "The event is being delivered right now",
        413: "Body too large",
        415: "Not JSON",
        422: "Invalid fields, an unknown event type (the allowed ones listed), or a URL the SSRF guard refuses",
        503: "IEP_ENCRYPTION_KEY is not set, so secrets cannot be stored",
    }.items()
}


def _out(row: dict[str, Any]) -> EndpointOut:
    return EndpointOut.model_validate(row)


@router.post(
    "",
    status_code=201,
    response_model=EndpointCreated,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(EndpointCreate),
    summary="Register a webhook endpoint; the signing secret is in this answer only",
)
async def create_endpoint(
    request: Request, response: Response, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> EndpointCreated:
    container = request.app.state.container
    body = await parse_body(request, EndpointCreate)
    async with container.engine.begin() as conn:
        row, secret = await service.create_endpoint(
            conn,
            ctx.tenant_id,
            body,
            guard=container.webhook_guard(),
            keyring=container.keyring,
            now=container.clock.now(),
        )
    response.headers["Location"] = f"/v1/webhooks/{row['id']}"
    return EndpointCreated.model_validate({**row, "secret": secret})


@router.get("", response_model=EndpointList, responses=_PROBLEMS, summary="The tenant's webhook endpoints")
async def list_endpoints(request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]) -> EndpointList:
    async with request.app.state.container.engine.connect() as conn:
        rows = await service.list_endpoints(conn, ctx.tenant_id)
    return EndpointList(data=[_out(r) for r in rows])


@router.get("/{endpoint_id}", response_model=EndpointOut, responses=_PROBLEMS, summary="One webhook endpoint")
async def get_endpoint(
    endpoint_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]
) -> EndpointOut:
    async with request.app.state.container.engine.connect() as conn:
        return _out(await service.get_endpoint(conn, ctx.tenant_id, path_id(endpoint_id, "webhook endpoint")))


@router.put(
    "/{endpoint_id}",
    response_model=EndpointOut,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(EndpointUpdate),
    summary="Change an endpoint's URL, events or description; `active: true` re-enables a disabled one",
)
async def update_endpoint(
    endpoint_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> EndpointOut:
    container = request.app.state.container
    eid = path_id(endpoint_id, "webhook endpoint")
    body = await parse_body(request, EndpointUpdate)
    async with container.engine.begin() as conn:
        row = await service.update_endpoint(
            conn, ctx.tenant_id, eid, body, guard=container.webhook_guard(), now=container.clock.now()
        )
    return _out(row)


@router.delete("/{endpoint_id}", status_code=204, responses=_PROBLEMS, summary="Remove an endpoint and its log")
async def delete_endpoint(
    endpoint_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> Response:
    async with request.app.state.container.engine.begin() as conn:
        await service.delete_endpoint(conn, ctx.tenant_id, path_id(endpoint_id, "webhook endpoint"))
    return Response(status_code=204)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=DeliveryPage,
    responses=_PROBLEMS,
    summary="Every delivery attempt to this endpoint, newest first",
)
async def list_deliveries(
    endpoint_id: str,
    request: Request,
    ctx: Annotated[TenantContext, Depends(require("read"))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryPage:
    async with request.app.state.container.engine.connect() as conn:
        rows, next_cursor = await service.list_deliveries(
            conn, ctx.tenant_id, path_id(endpoint_id, "webhook endpoint"), limit=limit, cursor=cursor
        )
    data = [
        DeliveryOut.model_validate(
            {
                **r,
                "webhook_id": signing.webhook_id(r["event_id"]),
                "event": r["event_type"],
            }
        )
        for r in rows
    ]
    return DeliveryPage(data=data, nextCursor=next_cursor, limit=limit)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=Replayed,
    responses=_PROBLEMS,
    summary="Send the delivery's event once more (same webhook-id), even to a disabled endpoint",
)
async def replay_delivery(
    endpoint_id: str, delivery_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("send"))]
) -> Replayed:
    container = request.app.state.container
    eid, did = path_id(endpoint_id, "webhook endpoint"), path_id(delivery_id, "delivery")
    async with container.engine.begin() as conn:
        event_id = await service.replay(conn, ctx.tenant_id, eid, did, container.clock.now())
    return Replayed(eventId=event_id, webhookId=signing.webhook_id(event_id), status="pending")
