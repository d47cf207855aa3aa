"""One headless Debian Chromium per test module, IEP served on loopback by uvicorn, and pages that record every
console error, page error and dialog (a dialog is a script that ran)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from playwright.async_api import Browser, BrowserContext, Dialog, Page, async_playwright

from iep.bootstrap import Container
from iep.entrypoints.api import create_app
from tests.support.smtp_sink import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin"


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def serve(container: Container) -> AsyncIterator[str]:
    """The API app (with /admin) on a loopback port, in this event loop; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        # `localhost` is a secure context to Chromium, so the Secure cookie works over plain http in the test.
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Watched:
    """What the page did that it should not have: console errors, uncaught errors, dialogs."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    async def close(self) -> None:
        await self.context.close()


async def watched_page(browser: Browser, width: int = 1280) -> Watched:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    watched = Watched(context, page)

    async def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("console", lambda msg: watched.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    page.on("dialog", on_dialog)
    return watched


async def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0 or less: no horizontal scrolling)."""
    value = await page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"
    )
    return int(value)


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/admin/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    assert page.url == f"{base}/admin/messages", await page.content()
