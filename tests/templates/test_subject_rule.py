"""One subject rule for every template format: the request's subject wins, else the template's; a send with
neither is refused at accept (422), so nothing accepted fails later for want of a subject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from iep.bootstrap import Container
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.compile_cache import CompileCache, FileLock
from iep.rendering.renderer import Renderer
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

WITH_SUBJECT = {
    "page.html.jinja": "---\nsubject: 'From template {{ name }}'\n---\n<p>Hi {{ name }}</p>\n",
    "page.mjml": (
        "---\nsubject: 'From template {{ name }}'\n---\n"
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{ name }}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>\n"
    ),
    "page.tsx": (
        'import { Html, Text } from "@react-email/components";\n'
        "export const subject = (p: { name: string }) => `From template ${p.name}`;\n"
        "export default function Page(p: { name: string }) { return <Html><Text>Hi {p.name}</Text></Html>; }\n"
    ),
}
WITHOUT_SUBJECT = {
    "page.html.jinja": "<p>Hi {{ name }}</p>\n",
    "page.mjml": (
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{ name }}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>\n"
    ),
    "page.tsx": (
        'import { Html, Text } from "@react-email/components";\n'
        "export default function Page(p: { name: string }) { return <Html><Text>Hi {p.name}</Text></Html>; }\n"
    ),
}


@pytest.fixture
async def folder(tmp_path: Path, container: Container) -> AsyncIterator[Path]:
    root = tmp_path / "templates"
    (root / "acme").mkdir(parents=True)
    shared = container.renderer
    container.renderer = Renderer(
        timeout_ms=5000,
        python_workers=1,
        bun_workers=1,
        catalog=TemplateCatalog(root, reload=True),
        cache=CompileCache(tmp_path / "dist", FileLock(tmp_path / "dist")),
    )
    yield root / "acme"
    await container.renderer.close()
    container.renderer = shared


async def _send(api: httpx.AsyncClient, tenant: TenantKey, subject: str | None) -> httpx.Response:
    body: dict[str, object] = {
        "to": ["a@example.com"],
        "from": "app@product.example",
        "template": "page",
        "templateData": {"name": "Ada"},
    }
    if subject is not None:
        body["subject"] = subject
    return await api.post("/v1/messages", json=body, headers=tenant.headers)


@pytest.mark.parametrize("filename", sorted(WITH_SUBJECT))
@pytest.mark.parametrize(
    ("template_has_one", "request_subject", "expected"),
    [
        (True, None, "From template Ada"),
        (True, "From request {{name}}", "From request Ada"),
        (False, "From request {{name}}", "From request Ada"),
        (False, None, None),
    ],
)
async def test_the_request_subject_wins_else_the_template_s_else_422(
    folder: Path,
    api: httpx.AsyncClient,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    filename: str,
    template_has_one: bool,
    request_subject: str | None,
    expected: str | None,
) -> None:
    source = WITH_SUBJECT if template_has_one else WITHOUT_SUBJECT
    (folder / filename).write_text(source[filename])
    resp = await _send(api, tenant, request_subject)
    if expected is None:
        assert resp.status_code == 422, resp.text
        [error] = resp.json()["errors"]
        assert (error["field"], error["code"]) == ("subject", "missing")
        assert "acme/page" in error["message"]
        return
    assert resp.status_code == 202, resp.text
    assert await drain(container) == 1
    shown = (await api.get(f"/v1/messages/{resp.json()['messageId']}", headers=tenant.headers)).json()
    assert shown["status"] == "sent", shown.get("lastError")
    [delivered] = sink.handler.received
    assert delivered.message["Subject"] == expected
