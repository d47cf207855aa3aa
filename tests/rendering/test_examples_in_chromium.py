"""Each example template, in each format, shown by a real headless Chromium at 800 px and 375 px: nothing wider
than the screen. Screenshots go to `.iep/screenshots/` for a person to look at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route, async_playwright

from iep.rendering.renderer import Renderer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / ".iep" / "screenshots"
EXAMPLES = [f"{fmt}/{name}" for fmt in ("jinja", "mjml", "react") for name in
            ("welcome", "password-reset", "invoice", "weekly-digest")]  # fmt: skip
WIDTHS = (800, 375)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        await launched.close()


async def _no_network(route: Route) -> None:
    await route.abort()  # an email must render from itself: nothing is fetched, and nothing may be


@pytest.mark.parametrize("name", EXAMPLES)
async def test_example_fits_800_and_375_pixels(renderer: Renderer, browser: Browser, name: str) -> None:
    source = renderer.catalog.resolve(None, name)
    rendered = await renderer.template(source, source.example)
    assert rendered.html
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page = await browser.new_page(viewport={"width": width, "height": 900})
        try:
            await page.route("**/*", _no_network)
            await page.set_content(rendered.html, wait_until="load")
            overflow = await page.evaluate(
                "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"
            )
            await page.screenshot(path=str(SHOTS / f"{name.replace('/', '-')}-{width}.png"), full_page=True)
            visible = await page.inner_text("body")
        finally:
            await page.close()
        assert overflow <= 0, f"{name} is {overflow}px wider than a {width}px screen"
        assert source.example is not None
        first_value = str(next(iter(source.example.values())))
        assert first_value in visible, f"{name} at {width}px does not show {first_value!r}"
