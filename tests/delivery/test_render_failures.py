"""T4 in the send step: a runaway template fails its message permanently with `render_timeout`, at once, and the
messages around it are sent; a template error is `render_error`; neither is retried. A tenant past its render
budget has its message retried later, and another tenant's is sent."""

from __future__ import annotations

import httpx

from iep.bootstrap import Container
from iep.tenancy import repository as tenancy_repository
from tests.conftest import SHARED_RENDER_TIMEOUT_MS, TenantKey, make_tenant
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

BASE = {"to": ["user@example.com"], "from": "App <app@product.example>", "subject": "Hi {{name}}"}
# Three nested #each over 300 items: 27 million iterations, far past any render timeout (SPEC.md §4).
RUNAWAY = {
    **BASE,
    "htmlBody": "{{#each a}}{{#each ../a}}{{#each ../../a}}{{this}}{{/each}}{{/each}}{{/each}}",
    "variables": {"a": list(range(300)), "name": "x"},
}


async def _send(api: httpx.AsyncClient, tenant: TenantKey, payload: dict[str, object]) -> str:
    resp = await api.post("/v1/messages", json=payload, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["messageId"])


async def _show(api: httpx.AsyncClient, tenant: TenantKey, message_id: str) -> dict[str, object]:
    resp = await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)
    doc: dict[str, object] = resp.json()
    return doc


async def test_a_runaway_template_fails_with_render_timeout_and_the_next_message_is_sent(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    before = await _send(api, tenant, {**BASE, "htmlBody": "<p>before {{name}}</p>", "variables": {"name": "A"}})
    runaway = await _send(api, tenant, RUNAWAY)
    after = await _send(api, tenant, {**BASE, "htmlBody": "<p>after {{name}}</p>", "variables": {"name": "B"}})

    assert await drain(container) == 3

    failed = await _show(api, tenant, runaway)
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1, "a render timeout is permanent: never retried"
    events = failed["events"]
    assert isinstance(events, list)
    assert events[-1]["type"] == "failed"
    assert events[-1]["payload"]["reason"] == "render_timeout"
    assert f"{SHARED_RENDER_TIMEOUT_MS} ms" in str(failed["lastError"])
    for message_id in (before, after):
        assert (await _show(api, tenant, message_id))["status"] == "sent"
    assert sorted(m.message["Subject"] for m in sink.handler.received) == ["Hi A", "Hi B"]


async def test_a_template_error_at_render_is_render_error(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    # Parses (so it is accepted) but calls a helper that does not exist: only rendering can tell.
    message_id = await _send(api, tenant, {**BASE, "htmlBody": "{{nohelper name 1}}", "variables": {"name": "x"}})
    await drain(container)
    shown = await _show(api, tenant, message_id)
    assert shown["status"] == "failed"
    events = shown["events"]
    assert isinstance(events, list)
    assert events[-1]["payload"]["reason"] == "render_error"


async def test_a_tenant_past_its_render_budget_is_retried_later_and_another_tenant_is_sent(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    other = await make_tenant(container, "globex")
    async with container.engine.connect() as conn:
        row = await tenancy_repository.tenant_by_slug(conn, tenant.slug)
    assert row is not None
    # As if the tenant's renders had just run into the timeout for its whole budget.
    container.renderer.budget.charge(str(row["id"]), container.settings.render_tenant_budget_seconds)
    block = {**BASE, "htmlBody": "{{#if name}}<p>{{name}}</p>{{/if}}"}  # a block: it needs a render process
    deferred = await _send(api, tenant, {**block, "variables": {"name": "A"}})
    sent = await _send(api, other, {**block, "variables": {"name": "B"}})

    assert await drain(container) == 2

    shown = await _show(api, tenant, deferred)
    assert shown["status"] == "retry_scheduled"
    assert "rendering later" in str(shown["lastError"])
    assert (await _show(api, other, sent))["status"] == "sent"
    assert [m.message["Subject"] for m in sink.handler.received] == ["Hi B"]
