"""The dashboard's other pages, over HTTP: message search and paging across tenants, tenant settings, key rotation
and revocation, tenant webhook deliveries and replay, delivery charts, queue and breaker health, the dev inbox."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx

from iep.bootstrap import Container
from iep.config import Role
from iep.kit.clock import FakeClock
from iep.providers.base import Address, OutgoingEmail
from iep.providers.devinbox import DevInboxProvider
from iep.tenancy.auth import RECHECK_SECONDS
from tests.admin.conftest import ORIGIN, csrf_of
from tests.conftest import TenantKey, make_tenant
from tests.support.pipeline import drain, relay_all
from tests.support.smtp_sink import SmtpSink
from tests.tenant_webhooks.conftest import register, until, webhooks_role
from tests.tenant_webhooks.receiver import Receiver

_ROW = re.compile(r'href="/admin/messages/([0-9a-f-]{36})"')


async def _send(client: httpx.AsyncClient, tenant: TenantKey, to: str, subject: str) -> str:
    body = {"to": [to], "from": "app@product.example", "subject": subject, "textBody": "x"}
    answer = await client.post("/v1/messages", json=body, headers=tenant.headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["messageId"])


async def _post(client: httpx.AsyncClient, page: str, path: str, **fields: str) -> httpx.Response:
    token = csrf_of((await client.get(page)).text)
    return await client.post(path, data={"csrf": token, **fields}, headers={"Origin": ORIGIN})


async def test_search_across_tenants_with_cursor_paging(
    container: Container, signed_in: httpx.AsyncClient, clock: FakeClock
) -> None:
    acme = await make_tenant(container, "acme")
    globex = await make_tenant(container, "globex")
    ids = []
    for i in range(60):
        clock.advance(1)
        ids.append(await _send(signed_in, acme, f"user{i}@example.com", f"Invoice {i}"))
    other = await _send(signed_in, globex, "user1@example.com", "Receipt")
    first = (await signed_in.get("/admin/messages?tenant=acme")).text
    shown = _ROW.findall(first)
    assert shown == list(reversed(ids))[:50]  # newest first, one page
    older = re.search(r'href="(/admin/messages\?[^"]*cursor=[^"]+)"', first)
    assert older is not None
    second = _ROW.findall((await signed_in.get(older.group(1).replace("&amp;", "&"))).text)
    assert second == list(reversed(ids))[50:]
    by_recipient = _ROW.findall((await signed_in.get("/admin/messages?q=USER1@example.com")).text)
    assert set(by_recipient) == {ids[1], other}  # both tenants; exact address, any case
    assert _ROW.findall((await signed_in.get("/admin/messages?q=Invoice 42")).text) == [ids[42]]
    assert _ROW.findall((await signed_in.get(f"/admin/messages?q={other}")).text) == [other]
    assert _ROW.findall((await signed_in.get("/admin/messages?q=Receipt&tenant=acme")).text) == []
    day = clock.now().date().isoformat()
    assert len(_ROW.findall((await signed_in.get(f"/admin/messages?from={day}&to={day}&status=queued")).text)) == 50
    assert _ROW.findall((await signed_in.get("/admin/messages?status=sent")).text) == []


async def test_settings_rotation_and_revocation(container: Container, signed_in: httpx.AsyncClient) -> None:
    tenant = await make_tenant(container, "acme")
    page = "/admin/tenants/acme"
    saved = await _post(
        signed_in,
        page,
        f"{page}/settings",
        name="Acme Ltd",
        max_per_minute="5",
        settings='{"routing": {"primary": "smtp"}}',
    )
    assert saved.status_code == 303
    shown = (await signed_in.get(page)).text
    assert "Acme Ltd" in shown
    assert 'name="max_per_minute" value="5"' in shown
    assert "&#34;primary&#34;: &#34;smtp&#34;" in shown
    emptied = await _post(signed_in, page, f"{page}/settings", settings="{}")  # the JSON is the whole object
    assert emptied.status_code == 303
    shown = (await signed_in.get(page)).text
    assert "primary" not in shown
    assert 'name="max_per_minute" value="5"' in shown  # limits change only through their own fields
    refused = await _post(signed_in, page, f"{page}/settings", max_per_minute="-1", settings="{}")
    assert refused.status_code == 422
    assert "Not saved" in refused.text
    prefix = tenant.key.removeprefix("iep_").split("_")[0]
    rotated = await _post(signed_in, page, f"{page}/keys/{prefix}/rotate", grace="0")
    assert rotated.status_code == 200
    new_secret = re.search(r'id="new-secret">([^<]+)<', rotated.text)
    assert new_secret is not None
    new = TenantKey("acme", new_secret.group(1))
    assert (await signed_in.get("/v1/messages", headers=new.headers)).status_code == 200
    new_prefix = new.key.removeprefix("iep_").split("_")[0]
    revoked = await _post(signed_in, page, f"{page}/keys/{new_prefix}/revoke")
    assert revoked.status_code == 303
    assert re.search(rf"<td>{new_prefix}</td>.*?badge revoked", (await signed_in.get(page)).text, re.S)
    await asyncio.sleep(RECHECK_SECONDS + 0.2)  # a key seen valid is re-checked after this long
    assert (await signed_in.get("/v1/messages", headers=new.headers)).status_code == 401
    audit = (await signed_in.get("/admin/audit")).text
    for action in ("tenant_settings", "key_rotate", "key_revoke"):
        assert action in audit


async def test_webhook_deliveries_and_replay(
    hooks: Container, signed_in: httpx.AsyncClient, receiver: Receiver, sink: SmtpSink
) -> None:
    tenant = await make_tenant(hooks, "acme")
    await register(signed_in, tenant, receiver, ["message.sent"])
    await _send(signed_in, tenant, "a@example.com", "Hooked")
    assert await drain(hooks) == 1
    async with webhooks_role(hooks):
        await until(lambda: _received(receiver, 1), what="one delivery")
        page = (await signed_in.get("/admin/webhooks?tenant=acme")).text
        assert receiver.url in page
        assert "message.sent" in page
        assert ">200<" in page
        replay = re.search(r'action="(/admin/webhooks/[0-9a-f-]+/deliveries/[0-9a-f-]+/replay)"', page)
        assert replay is not None
        answer = await _post(signed_in, "/admin/webhooks?tenant=acme", replay.group(1), tenant="acme")
        assert answer.status_code == 303
        await until(lambda: _received(receiver, 2), what="the replay")
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert "(replay)" in (await signed_in.get("/admin/webhooks?tenant=acme")).text


async def _received(peer: Receiver, n: int) -> bool:
    return len(peer.received) >= n


async def test_charts_count_outcomes_per_hour(
    container: Container, signed_in: httpx.AsyncClient, sink: SmtpSink
) -> None:
    tenant = await make_tenant(container, "acme")
    for i in range(3):
        await _send(signed_in, tenant, f"ok{i}@example.com", "Fine")
    assert await drain(container) == 3
    sink.handler.always_reply = "550 5.1.1 no such user"
    await _send(signed_in, tenant, "gone@example.com", "Gone")
    assert await drain(container) == 1
    page = (await signed_in.get("/admin/analytics")).text
    assert page.count("<polyline") == 6  # four outcomes, two latency percentiles
    assert "sent (3)" in page
    assert "failed (1)" in page
    assert "delivered (0)" in page
    assert "<script" not in page.split("</head>")[1]


async def test_health_shows_queue_depth_and_breaker_state(container: Container, signed_in: httpx.AsyncClient) -> None:
    tenant = await make_tenant(container, "acme")
    for i in range(2):
        await _send(signed_in, tenant, f"q{i}@example.com", "Waiting")
    await relay_all(container)
    breaker = container.router.breaker
    assert breaker is not None
    for _ in range(breaker.policy.min_calls):
        await breaker.record("smtp", ok=False)
    page = (await signed_in.get("/admin/health")).text
    assert re.search(r"<td>mail\.send</td><td>2</td><td>0</td><td>0</td>", page)
    assert re.search(r"<td>smtp</td><td><span class=\"badge open\">open</span>", page)
    panel = await signed_in.get("/admin/health/panel")
    assert panel.text.startswith('<div id="health-panel" hx-get="/admin/health/panel"')


async def test_dev_inbox_lists_what_it_kept(container: Container, signed_in: httpx.AsyncClient, tmp_path: Path) -> None:
    assert (await signed_in.get("/admin/inbox")).status_code == 404  # role dev only
    container.settings = container.settings.model_copy(update={"service_role": Role.DEV, "state_dir": tmp_path})
    inbox = DevInboxProvider(directory=tmp_path / "inbox", message_id_domain="iep.test")
    mid = uuid.uuid4()
    email = OutgoingEmail(
        message_id=mid,
        sender=Address("app@product.example"),
        to=("dev@example.com",),
        subject="Kept",
        html=None,
        text="x",
    )
    await inbox.send(email)
    page = await signed_in.get("/admin/inbox")
    assert page.status_code == 200
    assert "Kept" in page.text
    assert f'href="/admin/messages/{mid}"' in page.text
    assert 'href="/admin/inbox"' in page.text  # the nav shows it in dev


async def test_preview_is_sandboxed_and_the_raw_mime_downloads(
    container: Container, signed_in: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(container, "acme")
    body = {
        "to": ["p@example.com"],
        "from": {"email": "app@product.example", "name": "App"},
        "subject": "Hello {{name}}",
        "htmlBody": "<h1>Hi {{name}}</h1><script>alert(1)</script>",
        "variables": {"name": "Ada"},
    }
    answer = await signed_in.post("/v1/messages", json=body, headers=tenant.headers)
    mid = answer.json()["messageId"]
    page = (await signed_in.get(f"/admin/messages/{mid}")).text
    assert f'<iframe class="preview" sandbox src="/admin/messages/{mid}/preview"' in page
    preview = await signed_in.get(f"/admin/messages/{mid}/preview")
    assert preview.headers["content-security-policy"] == (
        "sandbox; default-src 'none'; img-src data: https:; style-src 'unsafe-inline'"
    )
    assert "<h1>Hi Ada</h1>" in preview.text  # rendered by the worker's own code before it was sent
    raw = await signed_in.get(f"/admin/messages/{mid}/raw")
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.headers["content-disposition"] == f'attachment; filename="{mid}.eml"'
    assert b"Subject: Hello Ada" in raw.content
    assert b"To: p@example.com" in raw.content
