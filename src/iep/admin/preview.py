"""The tenant's email as it was (or would be) sent: the HTML for the sandboxed preview and the raw MIME."""

from __future__ import annotations

from typing import Any

from iep.delivery.tasks import outgoing, render
from iep.providers.mime import build_mime, serialize
from iep.rendering.errors import RenderError, RendererUnavailable
from iep.rendering.renderer import Rendered, Renderer


async def rendered(renderer: Renderer, row: dict[str, Any]) -> Rendered:
    """What was sent when it was sent; otherwise rendered now by the same code the worker runs."""
    if row["rendered_subject"] is not None and (row["rendered_html"] or row["rendered_text"]):
        return Rendered(row["rendered_subject"], row["rendered_html"], row["rendered_text"])
    try:
        return await render(renderer, row)
    except (RenderError, RendererUnavailable) as exc:
        return Rendered(row["subject"] or "", None, f"This message cannot be rendered: {exc}")


async def raw_mime(renderer: Renderer, row: dict[str, Any], message_id_domain: str) -> bytes:
    """The message as MIME, as SMTP would carry it (attachments listed by the message page, not embedded)."""
    email = outgoing(row, await rendered(renderer, row))
    return serialize(build_mime(email, message_id_domain=message_id_domain, date=row["sent_at"] or row["created_at"]))
