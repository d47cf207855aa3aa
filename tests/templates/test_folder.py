"""T2 namespaces, accept-time syntax checks and T7 reloads, on a templates folder made by each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from iep.bootstrap import Container
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.compile_cache import CompileCache, FileLock
from iep.rendering.renderer import Renderer
from tests.conftest import TenantKey, make_tenant
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink


def page(subject: str, body: str) -> str:
    return f"---\nsubject: {subject!r}\n---\n<p>{body}</p>\n"


@pytest.fixture
async def folder(tmp_path: Path, container: Container) -> AsyncIterator[Path]:
    """`container` now renders from `tmp_path/templates`, re-read on every change as in role dev."""
    root = tmp_path / "templates"
    (root / "_shared").mkdir(parents=True)
    (root / "acme").mkdir()
    dist = tmp_path / "dist"
    shared = container.renderer
    container.renderer = Renderer(
        timeout_ms=1000,
        python_workers=2,
        catalog=TemplateCatalog(root, reload=True),
        cache=CompileCache(dist, FileLock(dist)),
    )
    yield root
    await container.renderer.close()
    container.renderer = shared


async def _send(api: httpx.AsyncClient, tenant: TenantKey, template: str, **data: object) -> httpx.Response:
    body = {"to": ["a@example.com"], "from": "app@product.example", "template": template, "templateData": data}
    return await api.post("/v1/messages", json=body, headers=tenant.headers)


async def test_a_tenant_template_hides_the_shared_one(
    folder: Path, api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    (folder / "_shared" / "hello.html.jinja").write_text(page("Shared {{ n }}", "shared"))
    (folder / "acme" / "hello.html.jinja").write_text(page("Acme's own {{ n }}", "acme"))
    other = await make_tenant(container, "globex")
    assert (await _send(api, tenant, "hello", n=1)).status_code == 202
    assert (await _send(api, other, "hello", n=2)).status_code == 202
    # A tenant's namespace is its own: acme's template is not reachable by another tenant's name for it.
    assert (await _send(api, other, "../acme/hello")).status_code == 422
    await drain(container)
    assert sorted(m.message["Subject"] for m in sink.handler.received) == ["Acme's own 1", "Shared 2"]


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"bad.html.jinja": page("s", "{% for x in %}")}, "line 4"),
        ({"bad.html.jinja": page("{{ unclosed", "x")}, "subject"),
        ({"bad.html.jinja": page("s", "x"), "bad.txt.jinja": "{% if %}"}, "bad.txt.jinja"),
        ({"bad.html.jinja": "---\nsubject: [unclosed\n---\n<p/>"}, "front matter"),
        ({"bad.html.jinja": "---\nsubjct: typo\n---\n<p/>"}, "unknown front matter"),
        ({"bad.html.jinja": "---\nsubject: ''\n---\n<p/>"}, "subject"),
        ({"bad.mjml": "---\nsubject: s\n---\n<mjml>{% endfor %}</mjml>"}, "endfor"),
        ({"bad.html.jinja": page("s", "x"), "bad.schema.json": '{"type": 12}'}, "JSON Schema"),
        ({"bad.html.jinja": page("s", "x"), "bad.mjml": page("s", "x")}, "ambiguous"),
    ],
)
async def test_template_errors_are_422_at_accept(
    folder: Path, api: httpx.AsyncClient, tenant: TenantKey, files: dict[str, str], needle: str
) -> None:
    for name, content in files.items():
        (folder / "acme" / name).write_text(content)
    resp = await _send(api, tenant, "bad")
    assert resp.status_code == 422
    [error] = resp.json()["errors"]
    assert error["field"] == "template"
    assert error["code"] == "template_invalid"
    assert needle in error["message"]


async def test_edits_take_effect_on_the_next_send(
    folder: Path, api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    path = folder / "_shared" / "news.html.jinja"
    path.write_text(page("Version 1", "one"))
    assert (await _send(api, tenant, "news")).status_code == 202
    await drain(container)
    path.write_text(page("Version two", "two"))  # a different size, so even a coarse mtime sees the change
    schema = folder / "_shared" / "news.schema.json"
    schema.write_text('{"type": "object", "required": ["who"]}')
    assert (await _send(api, tenant, "news")).status_code == 422, "the new schema applies at once"
    assert (await _send(api, tenant, "news", who="x")).status_code == 202
    await drain(container)
    assert [m.message["Subject"] for m in sink.handler.received] == ["Version 1", "Version two"]


async def test_a_template_removed_after_accept_fails_the_message(
    folder: Path, api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    path = folder / "acme" / "gone.html.jinja"
    path.write_text(page("s", "x"))
    resp = await _send(api, tenant, "gone")
    assert resp.status_code == 202
    path.unlink()
    await drain(container)
    shown = (await api.get(f"/v1/messages/{resp.json()['messageId']}", headers=tenant.headers)).json()
    assert shown["status"] == "failed"
    assert shown["events"][-1]["payload"]["reason"] == "render_error"
    assert "no longer in the templates folder" in shown["lastError"]
