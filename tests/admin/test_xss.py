"""Seed 003 §15, S10: tenant text (subjects, display names, HTML bodies, metadata keys and values, tags in
metadata, tenant names) carrying the XSS corpus is shown escaped on every dashboard page, and no script runs in
the admin origin: Chromium reports no dialog, and no page holds a script or handler that IEP did not write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from markupsafe import escape
from playwright.async_api import Browser, Page

from iep.bootstrap import Container
from iep.tenancy import service as tenancy
from tests.admin.browser import chromium, serve, sign_in, watched_page
from tests.admin.conftest import OPERATOR, PASSWORD, make_operator
from tests.conftest import make_tenant

CORPUS = [
    line
    for line in (Path(__file__).parent / "corpus" / "xss.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
# Elements and attributes IEP's own pages use; anything else scripted on a page came from tenant data.
_FOREIGN = """() => {
  const scripts = [...document.querySelectorAll('script')].filter(s => !s.src.endsWith('/admin/static/htmx.min.js'));
  const handlers = [...document.querySelectorAll('*')].filter(el => [...el.attributes].some(a =>
    a.name.startsWith('on') || (a.name.startsWith('hx-') && !el.closest('#health-panel') && a.name !== 'hx-headers')));
  const frames = [...document.querySelectorAll('iframe')].filter(f => !f.classList.contains('preview')
    || f.getAttribute('sandbox') !== '');
  return [...scripts.map(s => s.outerHTML), ...handlers.map(h => h.outerHTML.slice(0, 120)),
          ...frames.map(f => f.outerHTML.slice(0, 120))];
}"""


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 50
    assert len(set(CORPUS)) == len(CORPUS)


async def _seed(container: Container, api: httpx.AsyncClient) -> dict[str, str]:
    """One message per payload (subject, display name, HTML body, metadata); returns message id → payload."""
    tenant = await make_tenant(container, "acme")
    async with container.engine.begin() as conn:
        for i, payload in enumerate(CORPUS[:10]):
            await tenancy.create_tenant(conn, name=payload[:255], slug=f"xss-{i}")
    seeded: dict[str, str] = {}
    for payload in CORPUS:
        body = {
            "to": ["victim@example.com"],
            "from": {"email": "app@product.example", "name": payload[:200]},
            "subject": payload,
            "htmlBody": payload,
            "textBody": "x",
            "metadata": {"note": payload, payload[:40]: "as a key", "tags": [payload]},
        }
        answer = await api.post("/v1/messages", json=body, headers=tenant.headers)
        assert answer.status_code == 202, (payload, answer.text)
        seeded[str(answer.json()["messageId"])] = payload
    return seeded


async def _visit(page: Page, url: str) -> str:
    answer = await page.goto(url)
    assert answer is not None
    assert answer.status == 200, url
    await page.wait_for_load_state("load")
    assert await page.evaluate(_FOREIGN) == [], url
    return await answer.text()


async def test_no_payload_runs_and_every_value_is_escaped(container: Container, browser: Browser) -> None:
    async with serve(container) as base, httpx.AsyncClient(base_url=base) as api:
        seeded = await _seed(container, api)
        await make_operator(container)
        w = await watched_page(browser)
        await sign_in(w.page, base, OPERATOR, PASSWORD)
        listing = await _visit(w.page, f"{base}/admin/messages?tenant=acme")
        tenants = await _visit(w.page, f"{base}/admin/tenants")
        for payload in CORPUS[:10]:
            assert str(escape(payload[:255])) in tenants
        unescaped = []
        for message_id, payload in seeded.items():
            html = await _visit(w.page, f"{base}/admin/messages/{message_id}")
            if str(escape(payload)) not in html:
                unescaped.append(payload)
            if "<" in payload and payload in html:
                unescaped.append(payload)
            # The subject is on the page as text, exactly.
            assert " ".join((await w.page.inner_text("h1")).split()) == " ".join(payload.split())
        assert unescaped == []
        assert sum(str(escape(p)) in listing for p in seeded.values()) >= 40  # the first page of 50, newest first
        await _visit(w.page, f"{base}/admin/audit")
        assert w.dialogs == []
        await w.close()
