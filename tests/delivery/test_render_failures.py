"""T4 in the send step: a runaway template fails its message permanently with `render_timeout`, at once, and the
messages around it are sent; a template error is `render_error`; neither is retried."""

from __future__ import annotations

import httpx

from iep.bootstrap import Container
from tests.conftest import SHARED_RENDER_TIMEOUT_MS, TenantKey
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
