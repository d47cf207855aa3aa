"""HTTP for sender domains (A10, S5): add (→ the DNS records to publish), list, read, remove, verify."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from iep.api.auth import require
from iep.api.body import json_body_doc, parse_body
from iep.api.params import path_id
from iep.sending_domains import service
from iep.sending_domains.dns import DnsClient
from iep.sending_domains.records import DnsPlan
from iep.sending_domains.schemas import DomainCreate, DomainList, DomainOut, Verification
from iep.tenancy.context import TenantContext

router = APIRouter(prefix="/v1/domains", tags=["domains"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON",
        401: "Missing or invalid API key",
        403: "Scope missing (`admin` to change, `read` to look) or tenant suspended",
        404: "No such sender domain for this tenant",
        409: "The tenant already has this domain",
        413: "Body too large",
        415: "Not JSON",
        422: "Not a valid domain name",
        503: "IEP_ENCRYPTION_KEY is not set, so DKIM keys cannot be stored",
    }.items()
}


@router.post(
    "",
    status_code=201,
    response_model=DomainOut,
    responses=_PROBLEMS,
    openapi_extra=json_body_doc(DomainCreate),
    summary="Add a sender domain: a DKIM key is made for it and the DNS records to publish are returned",
)
async def add_domain(
    request: Request, response: Response, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> DomainOut:
    container = request.app.state.container
    body = await parse_body(request, DomainCreate, max_bytes=4096)
    async with container.engine.begin() as conn:
        view = await service.add_domain(
            conn,
            container.keyring,
            ctx.tenant_id,
            body.domain,
            now=container.clock.now(),
            plan=DnsPlan.from_settings(container.settings),
        )
    response.headers["Location"] = f"/v1/domains/{view['id']}"
    return DomainOut.model_validate(view)


@router.get("", response_model=DomainList, responses=_PROBLEMS, summary="The tenant's sender domains")
async def list_domains(request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]) -> DomainList:
    container = request.app.state.container
    async with container.engine.connect() as conn:
        views = await service.list_domains(
            conn, ctx.tenant_id, plan=DnsPlan.from_settings(container.settings), keyring=container.keyring
        )
    return DomainList(data=[DomainOut.model_validate(v) for v in views])


@router.get("/{domain_id}", response_model=DomainOut, responses=_PROBLEMS, summary="One sender domain and its records")
async def get_domain(
    domain_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]
) -> DomainOut:
    container = request.app.state.container
    async with container.engine.connect() as conn:
        view = await service.get_domain(
            conn,
            ctx.tenant_id,
            path_id(domain_id, "sender domain"),
            plan=DnsPlan.from_settings(container.settings),
            keyring=container.keyring,
        )
    return DomainOut.model_validate(view)


@router.delete("/{domain_id}", status_code=204, responses=_PROBLEMS, summary="Remove a sender domain and its DKIM key")
async def delete_domain(
    domain_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> Response:
    async with request.app.state.container.engine.begin() as conn:
        await service.delete_domain(conn, ctx.tenant_id, path_id(domain_id, "sender domain"))
    return Response(status_code=204)


@router.post(
    "/{domain_id}/verify",
    response_model=Verification,
    responses=_PROBLEMS,
    summary="Look the records up in DNS now: one result per record; verified when SPF, DKIM and return path are",
)
async def verify_domain(
    domain_id: str, request: Request, ctx: Annotated[TenantContext, Depends(require("admin"))]
) -> Verification:
    container = request.app.state.container
    settings = container.settings
    result = await service.verify_domain(
        container.engine,
        ctx.tenant_id,
        path_id(domain_id, "sender domain"),
        plan=DnsPlan.from_settings(settings),
        keyring=container.keyring,
        dns=DnsClient(settings.dns_nameservers, settings.dns_timeout_seconds),
        now=container.clock.now(),
    )
    return Verification.model_validate(result)
