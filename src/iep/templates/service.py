"""Named templates seen from the API and the CLI: accept-time checks (A2, T8), listing and previews (A10)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from iep.kit.problems import NotFound, RenderFailed, TemplateUnusable, ValidationFailed
from iep.kit.problems import RendererUnavailable as RendererUnavailableProblem
from iep.rendering.catalog import TemplateCatalog, TemplateInvalid, TemplateSource, UnknownTemplate, data_errors
from iep.rendering.errors import RenderError, RendererUnavailable
from iep.rendering.renderer import Rendered, Renderer


def _error(field: str, code: str, message: str) -> dict[str, Any]:
    return {"field": field, "pointer": f"/{field}", "code": code, "message": message}


def template_checks(
    catalog: TemplateCatalog, tenant_slug: str, payload: dict[str, Any], model: type[BaseModel]
) -> tuple[list[dict[str, Any]], str | None]:
    """Errors for `template` (unknown, unusable) and for its data (JSON Schema); the resolved name if found."""
    variables_key = model.model_fields["variables"].alias or "variables"
    data_key = "templateData" if "templateData" in payload else variables_key
    try:
        source = catalog.resolve(tenant_slug, str(payload["template"]))
    except UnknownTemplate as exc:
        return [_error("template", "unknown_template", str(exc))], None
    except TemplateInvalid as exc:
        return [_error("template", "template_invalid", str(exc))], None
    errors = []
    if not payload.get("subject") and not source.gives_subject:
        # Known now, so refused now: nothing accepted may fail later for want of a subject.
        errors.append(_error("subject", "missing", f"Field required: the template {source.qualified} gives no subject"))
    data = payload.get(data_key)
    if data is None:
        data = {}
    if not isinstance(data, dict):  # the model reports the type
        return errors, source.qualified
    return errors + data_errors(source, data, field_name=data_key), source.qualified


@dataclass(frozen=True, slots=True)
class Preview:
    source: TemplateSource
    rendered: Rendered


def find(catalog: TemplateCatalog, tenant_slug: str | None, name: str) -> TemplateSource:
    try:
        return catalog.resolve(tenant_slug, name)
    except UnknownTemplate as exc:
        raise NotFound(str(exc)) from None
    except TemplateInvalid as exc:
        raise TemplateUnusable(str(exc)) from None


async def preview(
    renderer: Renderer, tenant_slug: str | None, name: str, data: dict[str, Any] | None, *, tenant: str | None = None
) -> Preview:
    """Render a template as a message would be; without data, with the template's own example (a tenant's preview
    under its render budget, like its sends)."""
    source = find(renderer.catalog, tenant_slug, name)
    if data is None:
        data = dict(source.example or {})
    errors = data_errors(source, data)
    if errors:
        raise ValidationFailed(errors)
    try:
        rendered = await renderer.template(source, data, tenant=tenant)
    except RenderError as exc:
        raise RenderFailed(str(exc), reason=exc.reason) from None
    except RendererUnavailable as exc:
        raise RendererUnavailableProblem(str(exc), headers={"Retry-After": "5"}) from None
    return Preview(source, rendered)


def listing(catalog: TemplateCatalog, tenant_slug: str | None) -> list[dict[str, Any]]:
    rows = []
    for namespace, name in catalog.names(tenant_slug):
        row: dict[str, Any] = {"name": name if tenant_slug else f"{namespace}/{name}", "namespace": namespace}
        try:
            source = catalog.resolve(namespace if namespace != "_shared" else None, name)
        except (UnknownTemplate, TemplateInvalid) as exc:
            row.update(format=None, error=str(exc))
        else:
            row.update(
                format=source.format,
                description=source.description,
                hasSchema=source.schema is not None,
                hasExample=source.example is not None,
            )
        rows.append(row)
    return rows


async def check_all(renderer: Renderer, tenant_slug: str | None) -> list[dict[str, Any]]:
    """Every template: loads, its example matches its schema, and it renders (compiling MJML and TSX)."""
    results = []
    try:
        for namespace, name in renderer.catalog.names(tenant_slug):
            label = name if tenant_slug else f"{namespace}/{name}"
            row: dict[str, Any] = {"name": label, "ok": False}
            try:
                source = renderer.catalog.resolve(namespace if namespace != "_shared" else None, name)
                data = dict(source.example or {})
                errors = data_errors(source, data, field_name="example")
                if errors:
                    row["error"] = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
                else:
                    rendered = await renderer.template(source, data)
                    row.update(ok=True, format=source.format, subject=rendered.subject)
            except (UnknownTemplate, TemplateInvalid, RenderError, RendererUnavailable) as exc:
                row["error"] = str(exc)
            results.append(row)
    finally:
        await renderer.close()
    return results
