"""HTTP for named templates (A10): list what a tenant can use, and preview one. HTTP only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from iep.api.auth import require
from iep.api.body import read_json
from iep.kit.problems import ValidationFailed
from iep.templates import service
from iep.tenancy.context import TenantContext

router = APIRouter(prefix="/v1/templates", tags=["templates"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        400: "Malformed JSON",
        401: "Missing or invalid API key",
        403: "Scope missing or tenant suspended",
        404: "No such template for this tenant",
        422: "The data does not match the template's schema, the template has an error, or it failed to render",
        503: "No render process is available right now",
    }.items()
}


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    template_data: dict[str, Any] | None = Field(default=None, alias="templateData")


class PreviewOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    template: str
    format: str
    subject: str
    html: str | None
    text: str | None


class TemplateOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    name: str
    namespace: str
    format: str | None
    description: str | None = None
    has_schema: bool = Field(default=False, alias="hasSchema")
    has_example: bool = Field(default=False, alias="hasExample")
    error: str | None = None


class TemplateList(BaseModel):
    data: list[TemplateOut]


@router.get("", response_model=TemplateList, responses=_PROBLEMS, summary="Templates this tenant can use")
async def list_templates(request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]) -> TemplateList:
    catalog = request.app.state.container.renderer.catalog
    return TemplateList(data=[TemplateOut.model_validate(row) for row in service.listing(catalog, ctx.tenant_slug)])


@router.post(
    "/{name:path}/render",
    response_model=PreviewOut,
    responses=_PROBLEMS,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": PreviewRequest.model_json_schema(by_alias=True)}}}
    },
    summary="Render a template with data (or its example data): subject, HTML and text",
)
async def render_template(
    name: str, request: Request, ctx: Annotated[TenantContext, Depends(require("read"))]
) -> PreviewOut:
    container = request.app.state.container
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    raw = await read_json(request, container.settings.max_body_bytes) if has_body else {}
    try:
        body = PreviewRequest.model_validate(raw)
    except ValueError as exc:
        raise ValidationFailed([{"field": "", "pointer": "", "code": "invalid", "message": str(exc)[:500]}]) from None
    result = await service.preview(
        container.renderer, ctx.tenant_slug, name, body.template_data, tenant=str(ctx.tenant_id)
    )
    return PreviewOut(
        template=result.source.qualified,
        format=result.source.format,
        subject=result.rendered.subject,
        html=result.rendered.html,
        text=result.rendered.text,
    )
