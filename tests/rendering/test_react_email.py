"""T5 and SPEC.md §4: React Email + Tailwind rendered by killable Bun processes, with the pinned toolchain."""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from iep.rendering import react_email
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.compile_cache import CompileCache, FileLock
from iep.rendering.errors import RenderError, RenderTimeout, RenderTooLarge
from iep.rendering.renderer import Renderer
from tests.rendering.payloads import HANDLEBARS_PAYLOADS, JINJA_PAYLOADS

TIMEOUT_MS = 200
MARGIN = 0.3
CANARY = "canary-5b1d-bun-never-in-output"
EXACT_PINS = {
    "bun": "1.4.5",
    "react": "19.3.1",
    "react-dom": "19.3.1",
    "@react-email/components": "1.0.12",
    "@react-email/render": "2.0.6",
    "tailwindcss": "4.3.2",
}

RESPONSIVE = """
import { Body, Container, Head, Html, Tailwind, Text } from "@react-email/components";
export const subject = "responsive";
export default function Responsive() {
  return (
    <Html>
      <Tailwind>
        <Head />
        <Body className="bg-white">
          <Container className="p-4 sm:p-8 max-sm:p-2 md:w-[600px]">
            <Text className="text-lg text-gray-900 sm:text-xl md:text-2xl">Hello</Text>
          </Container>
        </Body>
      </Tailwind>
    </Html>
  );
}
"""
LOOP = 'export const subject = "loop";\nexport default function Loop() { while (true) {} }\n'
HUGE = 'export const subject = "huge";\nexport default function Huge() { return <p>{"x".repeat(2 ** 30)}</p>; }\n'
ECHO = """
export const subject = (p: { v: string }) => `echo ${p.v}`;
export default function Echo(props: { v: string; o?: Record<string, unknown> }) {
  return <div title={props.v}><p>{props.v}</p><p>{String(props.o?.constructor === Object)}</p></div>;
}
"""


@pytest.fixture
async def tsx(tmp_path: Path) -> AsyncIterator[tuple[Renderer, Path]]:
    root = tmp_path / "templates"
    (root / "_shared").mkdir(parents=True)
    dist = tmp_path / "dist"
    renderer = Renderer(
        timeout_ms=TIMEOUT_MS,
        python_workers=2,
        bun_workers=2,
        bun_recycle_after=3,
        catalog=TemplateCatalog(root, reload=True),
        cache=CompileCache(dist, FileLock(dist)),
        extra_env={"IEP_RENDER_CANARY": CANARY},
    )
    yield renderer, root / "_shared"
    await renderer.close()


async def _render(renderer: Renderer, folder: Path, name: str, source: str, data: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    (folder / f"{name}.tsx").write_text(source)
    return await renderer.template(renderer.catalog.resolve(None, name), data or {})


async def test_responsive_classes_stay_in_media_queries_and_base_classes_are_inlined(
    tsx: tuple[Renderer, Path],
) -> None:
    renderer, folder = tsx
    html = (await _render(renderer, folder, "responsive", RESPONSIVE)).html or ""
    style = "".join(re.findall(r"<style>(.*?)</style>", html, re.S))
    for cls in ("sm_p-8", "max-sm_p-2", "md_w-600px", "sm_text-xl", "md_text-2xl"):
        rule = re.search(rf"\.{re.escape(cls)}\{{@media[^{{]*\{{[^}}]*\}}\}}", style)
        assert rule, f"{cls} is not inside a media query in <style>: {style[:400]}"
    container = re.search(r'<table[^>]*class="([^"]*sm_p-8[^"]*)"[^>]*style="([^"]*)"', html)
    assert container, html[:600]
    assert "padding:1rem" in container.group(2), "the base class p-4 is inlined"
    assert "2rem" not in container.group(2), "sm:p-8 must not be applied on every screen"
    text = re.search(r'<p class="[^"]*sm_text-xl[^"]*" style="([^"]*)"', html)
    assert text
    assert "font-size:1.125rem" in text.group(1), "text-lg inlined; sm:/md: sizes only in media queries"


def test_the_toolchain_is_exactly_the_pinned_one() -> None:
    manifest = orjson.loads((react_email.TOOLCHAIN_DIR / "package.json").read_bytes())
    assert manifest["dependencies"] == EXACT_PINS, "pins drifted; tailwindcss must stay 4.3.2 (SPEC.md §4)"
    assert manifest["overrides"]["tailwindcss"] == "4.3.2"
    for package, version in EXACT_PINS.items():
        assert react_email.installed_version(package) == version, f"{package} installed ≠ pinned"
    # No second Tailwind hidden under another package (React Email's tailwind asks for ^4.1.18).
    found = {
        orjson.loads(p.read_bytes())["version"]
        for p in react_email.NODE_MODULES.rglob("tailwindcss/package.json")
        if p.parent.name == "tailwindcss"
    }
    assert found == {"4.3.2"}
    assert not (react_email.TOOLCHAIN_DIR / "package-lock.json").exists(), "no lock file with download URLs"


async def test_a_busy_loop_is_killed_at_the_timeout_and_the_next_render_works(tsx: tuple[Renderer, Path]) -> None:
    renderer, folder = tsx
    await _render(renderer, folder, "echo", ECHO, {"v": "warm"})
    for name, source in (("loop", LOOP), ("huge", HUGE)):
        (folder / f"{name}.tsx").write_text(source)
        template = renderer.catalog.resolve(None, name)
        with pytest.raises((RenderTimeout, RenderTooLarge)):  # the first attempt also compiles: not timed
            await renderer.template(template, {})
        await renderer.bun.wait_ready()
        started = time.monotonic()
        with pytest.raises((RenderTimeout, RenderTooLarge)):
            await renderer.template(template, {})
        assert time.monotonic() - started < TIMEOUT_MS / 1000 + MARGIN, f"{name}: not heard at the timeout"
        # The very next message renders at once, on the other process or on the spare that took over.
        started = time.monotonic()
        assert (await _render(renderer, folder, "echo", ECHO, {"v": "after"})).subject == "echo after"
        assert time.monotonic() - started < TIMEOUT_MS / 1000
        await renderer.bun.wait_ready()
    await renderer.bun.wait_ready()
    assert len(renderer.bun.pids) == 3, "two in rotation and a warm spare"
    assert renderer.bun.killed == 4


async def test_a_bun_process_is_replaced_after_n_template_versions(tsx: tuple[Renderer, Path]) -> None:
    renderer, folder = tsx
    for version in range(7):
        rendered = await _render(
            renderer, folder, "echo", ECHO.replace("<p>", f"<p data-v='{version}'>", 1), {"v": str(version)}
        )
        assert f'data-v="{version}"' in (rendered.html or "")
    await renderer.bun.wait_ready()
    assert renderer.bun.recycled >= 1, "each process loaded ≥ 3 versions and was replaced"
    assert renderer.bun.killed == 0
    assert len(renderer.bun.pids) == 3
    assert renderer.cache.compiles == 7


async def test_props_are_data_never_code(tsx: tuple[Renderer, Path]) -> None:
    renderer, folder = tsx
    (folder / "echo.tsx").write_text(ECHO)
    template = renderer.catalog.resolve(None, "echo")
    os.environ["IEP_RENDER_CANARY"] = CANARY
    try:
        payloads = [*JINJA_PAYLOADS[:30], *HANDLEBARS_PAYLOADS[:20], "${process.env.IEP_RENDER_CANARY}",
                    "<script>alert(1)</script>", "</p><img src=x onerror=alert(1)>", "javascript:alert(1)"]  # fmt: skip
        assert len(payloads) >= 50
        for payload in payloads:
            rendered = await renderer.template(template, {"v": payload, "o": {"__proto__": {"polluted": 1}}})
            out = f"{rendered.subject} {rendered.html} {rendered.text}"
            assert CANARY not in out
            assert "<script>" not in (rendered.html or "")
            assert "<img" not in (rendered.html or "")
            assert "<p>true</p>" in (rendered.html or ""), "a __proto__ key did not change the object's prototype"
    finally:
        del os.environ["IEP_RENDER_CANARY"]


async def test_compile_errors_and_escaping_imports_are_render_errors(tsx: tuple[Renderer, Path]) -> None:
    renderer, folder = tsx
    cases = {
        "broken": ("export default function Broken( { return <p> }", "does not compile"),
        "outside": (
            'import x from "../../../../../etc/passwd";\nexport default () => <p>{x}</p>;',
            "inside the templates folder",
        ),
        "package": ('import fs from "node:fs";\nexport default () => <p>{String(fs)}</p>;', "react, react-dom"),
    }
    for name, (source, needle) in cases.items():
        with pytest.raises(RenderError, match=needle):
            await _render(renderer, folder, name, source)
    assert renderer.bun.killed == 0


async def test_start_refuses_tsx_templates_without_bun(
    tsx: tuple[Renderer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    renderer, folder = tsx
    (folder / "echo.tsx").write_text(ECHO)
    monkeypatch.setattr(react_email, "BUN", react_email.TOOLCHAIN_DIR / "missing" / "bun")
    with pytest.raises(react_email.BunMissing, match="make install"):
        await renderer.start()
