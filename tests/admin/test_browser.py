"""U2: an operator's tour in Debian's Chromium: sign in, find a message by recipient, its timeline and sandboxed
preview, retry one and many, requeue from the DLQ, a key shown once, a suspended tenant refused, a suppression
added and removed; screenshots of every main page at 1280 and 375 px, none wider than the screen, no console
error on any of them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from tests.admin.browser import ARTIFACTS, chromium, overflow, serve, sign_in, watched_page
from tests.admin.conftest import OPERATOR, PASSWORD, make_operator
from tests.conftest import TenantKey, make_tenant
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

MAIN_PAGES = (
    "messages",
    "dlq",
    "tenants",
    "tenants/acme",
    "suppressions?tenant=acme",
    "webhooks?tenant=acme",
    "analytics",
    "health",
    "audit",
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def _mail(to: str, subject: str, html: str = "<p>Hello from the tour</p>") -> dict[str, object]:
    return {"to": [to], "from": "app@product.example", "subject": subject, "htmlBody": html, "textBody": "Hello"}


async def _send(api: httpx.AsyncClient, tenant: TenantKey, body: dict[str, object]) -> str:
    answer = await api.post("/v1/messages", json=body, headers=tenant.headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["messageId"])


async def _statuses(container: Container, ids: list[str]) -> set[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(text("SELECT status FROM messages WHERE id::text = ANY(:ids)"), {"ids": ids})
        return {r.status for r in rows}


async def _post_and_wait(page: Page, selector: str) -> None:
    async with page.expect_navigation():
        await page.click(selector)


async def test_operator_tour(container: Container, sink: SmtpSink, clock: FakeClock, browser: Browser) -> None:
    async with serve(container) as base, httpx.AsyncClient(base_url=base) as api:
        await _tour(container, sink, clock, browser, base, api)
        await _screenshots(browser, base)
        await _without_javascript(browser, base)


async def _tour(
    container: Container, sink: SmtpSink, clock: FakeClock, browser: Browser, base: str, api: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(container, "acme")
    await make_operator(container)
    ok_id = await _send(api, tenant, _mail("alice@example.com", "Welcome Alice", "<h1>Preview me</h1>"))
    assert await drain(container) == 1
    sink.handler.always_reply = "550 5.1.1 no such user"
    failed_id = await _send(api, tenant, _mail("bob@example.com", "For Bob"))
    bulk_ids = [await _send(api, tenant, _mail("carol@example.com", f"Bulk {i}")) for i in range(20)]
    assert await drain(container) == 21
    assert await _statuses(container, [failed_id, *bulk_ids]) == {"failed"}
    sink.handler.always_reply = "421 4.7.0 slow down"
    dead_id = await _send(api, tenant, _mail("dora@example.com", "Dead letter"))
    for delay in (0, 60, 300, 900, 3600):
        clock.advance(delay)
        assert await drain(container) == 1
    sink.handler.always_reply = None

    w = await watched_page(browser)
    page = w.page
    await sign_in(page, base, OPERATOR, PASSWORD)
    # The session cookie is HttpOnly: no script on the page can read it.
    assert "iep_admin" not in await page.evaluate("() => document.cookie")
    assert await page.evaluate("() => typeof htmx") == "object"  # the vendored copy, served by IEP
    # Keyboard first: the first Tab lands on the skip link, and it leads to the content.
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.textContent") == "Skip to content"

    # Find by recipient, open the timeline and the sandboxed preview.
    await page.fill("input[name=q]", "alice@example.com")
    await _post_and_wait(page, "form[role=search] button[type=submit]")
    await expect(page.locator("#results tbody tr")).to_have_count(1)
    await _post_and_wait(page, "#results tbody tr a")
    assert ok_id in page.url
    await expect(page.locator("ol.timeline")).to_contain_text("sent")
    await expect(page.locator("ol.timeline")).to_contain_text("queued")
    await expect(page.locator("dl.facts")).to_contain_text("smtp")
    frame = page.frame_locator("iframe.preview")
    await expect(frame.locator("h1")).to_have_text("Preview me")
    assert await page.get_attribute("iframe.preview", "sandbox") == ""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "tour-message-1280.png"))  # the README's picture (docs/images/)

    # Retry one failed message and see it sent.
    await page.goto(f"{base}/admin/messages/{failed_id}")
    await expect(page.locator("#status")).to_have_text("failed")
    await _post_and_wait(page, "button:has-text('Retry')")
    await expect(page.locator("#status")).to_have_text("queued")
    assert await drain(container) == 1
    await page.reload()
    await expect(page.locator("#status")).to_have_text("sent")

    # Bulk-retry the 20 failed ones: a count, a confirmation, then all sent.
    await page.goto(f"{base}/admin/messages?q=carol%40example.com&status=failed")
    await expect(page.locator("#results tbody tr")).to_have_count(20)
    await _post_and_wait(page, "a:has-text('Retry the failed ones')")
    await expect(page.locator("#retry-count")).to_have_text("20")
    await _post_and_wait(page, "button:has-text('Retry 20')")
    await expect(page.locator(".flash")).to_contain_text("20 message(s) queued again")
    assert await drain(container) == 20
    assert await _statuses(container, bulk_ids) == {"sent"}

    # Requeue from the DLQ.
    await page.goto(f"{base}/admin/dlq")
    await expect(page.locator("tbody")).to_contain_text("dora@example.com")
    await _post_and_wait(page, f"button[aria-label='Requeue {dead_id}']")
    await expect(page.locator("tbody")).to_contain_text("The dead-letter queue is empty")
    assert await drain(container) == 1
    assert await _statuses(container, [dead_id]) == {"sent"}

    # A key: its secret shown once, and it works.
    await page.goto(f"{base}/admin/tenants/acme")
    await page.fill("input[name=name]", "tour key")
    await _post_and_wait(page, "button:has-text('Create key')")
    secret = (await page.locator("#new-secret").inner_text()).strip()
    assert secret.startswith("iep_")
    await page.goto(f"{base}/admin/tenants/acme")
    assert await page.locator("#new-secret").count() == 0
    assert secret not in await page.content()
    fresh = TenantKey("acme", secret)
    await _send(api, fresh, _mail("erin@example.com", "With the new key"))

    # Suspend the tenant: its sends are refused.
    await _post_and_wait(page, "button:has-text('Suspend')")
    await expect(page.locator("#tenant-state")).to_have_text("suspended")
    refused = await api.post("/v1/messages", json=_mail("x@example.com", "No"), headers=tenant.headers)
    assert refused.status_code == 403
    await _post_and_wait(page, "button:has-text('Activate')")
    await expect(page.locator("#tenant-state")).to_have_text("active")

    # A suppression added and removed.
    await page.goto(f"{base}/admin/suppressions?tenant=acme")
    await page.fill("form[method=post][action='/admin/suppressions'] input[name=email]", "Frank@Example.com")
    await _post_and_wait(page, "button:has-text('Suppress')")
    await expect(page.locator("tbody")).to_contain_text("frank@example.com")
    await _post_and_wait(page, "button[aria-label='Remove frank@example.com']")
    await expect(page.locator("tbody")).to_contain_text("No suppressed address")

    # Every action above is in the audit log, with who did it.
    await page.goto(f"{base}/admin/audit")
    log = await page.locator("tbody").inner_text()
    for action in ("message_retry", "messages_bulk_retry", "dlq_requeue", "key_create", "tenant_suspend",
                   "suppression_add", "suppression_remove"):  # fmt: skip
        assert action in log
    assert OPERATOR in log
    assert w.errors == []
    assert w.dialogs == []
    await w.close()


async def _screenshots(browser: Browser, base: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        w = await watched_page(browser, width)
        await sign_in(w.page, base, OPERATOR, PASSWORD)
        wide: dict[str, int] = {}
        for path in MAIN_PAGES:
            answer = await w.page.goto(f"{base}/admin/{path}")
            assert answer is not None, path
            assert answer.status == 200, path
            name = path.replace("/", "-").replace("?", "-").replace("=", "-")
            await w.page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
            if (extra := await overflow(w.page)) > 0:
                wide[path] = extra
        message = await w.page.goto(f"{base}/admin/messages")
        assert message is not None
        await w.page.click("#results tbody tr a")
        await w.page.wait_for_load_state()
        await w.page.screenshot(path=str(ARTIFACTS / f"message-{width}.png"), full_page=True)
        if (extra := await overflow(w.page)) > 0:
            wide["message"] = extra
        assert wide == {}, f"wider than {width}px: {wide}"
        assert w.errors == [], w.errors
        await w.close()


async def _without_javascript(browser: Browser, base: str) -> None:
    """The read-only pages work with scripting off: signing in is a form, every page is rendered by the server."""
    context = await browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, base, OPERATOR, PASSWORD)
    await page.fill("input[name=q]", "alice@example.com")
    async with page.expect_navigation():
        await page.click("form[role=search] button[type=submit]")
    await expect(page.locator("#results tbody tr")).to_have_count(1)
    async with page.expect_navigation():
        await page.click("#results tbody tr a")
    await expect(page.locator("ol.timeline")).to_contain_text("sent")
    await page.goto(f"{base}/admin/health")
    await expect(page.locator("#health-panel")).to_contain_text("mail.send")
    await context.close()
