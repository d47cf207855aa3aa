"""Render latency per engine, cold and warm, and renders per second: `.venv/bin/python bench/render_engines.py`.

cold  = the first render of a template version never seen before: for MJML and TSX that includes the compile
        (mrml / Bun.build) and, for TSX, loading the module into a Bun process;
warm  = the same template again (compiled, loaded, cached);
rate  = renders/s with the pool kept busy (4 callers per render process).
Beside each warm p50, the ceiling: the same engine rendering in this process, with no sandbox process in between
(Handlebars, Jinja2), or a no-op round trip to a render process (the IPC floor every sandboxed render pays).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from iep.rendering import handlebars, jinja  # noqa: E402
from iep.rendering.catalog import TemplateCatalog  # noqa: E402
from iep.rendering.compile_cache import CompileCache, FileLock  # noqa: E402
from iep.rendering.renderer import Renderer  # noqa: E402

EXAMPLES = REPO / "examples" / "templates"
COLD = 15
WARM = 200
RATE_SECONDS = 3.0
HBS_HTML = "<h1>Hi {{name}}</h1>{{#each items}}<p>{{description}}: {{quantity}}</p>{{/each}}"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def timed(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


async def rate(call: Callable[[], Awaitable[object]], callers: int) -> float:
    done = 0
    deadline = time.perf_counter() + RATE_SECONDS

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(callers)))
    return done / (time.perf_counter() - started)


def cold_variants(root: Path, name: str, count: int) -> list[str]:
    """Copies of an example that differ by a comment: each is a version no cache has seen."""
    src = next(p for s in (".html.jinja", ".mjml", ".tsx") if (p := EXAMPLES / "_shared" / f"{name}{s}").exists())
    names = []
    for i in range(count):
        marker = uuid.uuid4().hex
        suffix = "".join(src.suffixes)
        text = src.read_text()
        comment = f"// {marker}\n" if suffix == ".tsx" else f"<!-- {marker} -->\n"
        text = text + comment if suffix != ".tsx" else comment + text
        target = root / "_shared" / f"{name}-cold{i}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        for extra in (".schema.json", ".example.json", ".txt.jinja"):
            sibling = src.with_name(src.name.removesuffix(suffix) + extra)
            if sibling.exists():
                shutil.copy(sibling, target.with_name(target.name.removesuffix(suffix) + extra))
        names.append(f"{name}-cold{i}")
    if (EXAMPLES / "_shared" / "react" / "_components").exists():
        shutil.copytree(EXAMPLES / "_shared" / "react" / "_components", root / "_shared" / "react" / "_components",
                        dirs_exist_ok=True)  # fmt: skip
    return names


EngineRow = tuple[str, list[float], list[float], float, float]  # engine, cold s, warm s, renders/s, ceiling s


async def measure(workers: int = 2) -> tuple[list[EngineRow], list[float]]:
    """Per engine: cold and warm render times (seconds), renders/s, the ceiling; and the IPC floor samples."""
    work = Path(tempfile.mkdtemp(prefix="iep-bench-render-"))
    shutil.copytree(EXAMPLES, work / "templates")
    dist = work / "dist"
    renderer = Renderer(
        timeout_ms=5000,
        python_workers=workers,
        bun_workers=workers,
        catalog=TemplateCatalog(work / "templates"),
        cache=CompileCache(dist, FileLock(dist)),
    )
    await renderer.start()
    await renderer.bun.start()
    try:
        data = {"name": "Ada", "items": [{"description": "Seat", "quantity": 2}] * 5}
        ping = await timed(lambda: renderer.python.call({"op": "ping"}, time_limit=5), WARM)
        rows: list[EngineRow] = []

        hbs = await timed(lambda: renderer.inline("Hi {{name}}", HBS_HTML, None, data), WARM)
        hbs_rate = await rate(lambda: renderer.inline("Hi {{name}}", HBS_HTML, None, data), workers * 4)
        started = time.perf_counter()
        for _ in range(WARM):
            handlebars.render(HBS_HTML, data)
        rows.append(("handlebars", [], hbs, hbs_rate, (time.perf_counter() - started) / WARM))

        for fmt, label in (("jinja", "jinja2"), ("mjml", "mjml"), ("react", "react-tsx")):
            names = cold_variants(work / "templates", f"{fmt}/invoice", COLD)
            cold = []
            for name in names:
                source = renderer.catalog.resolve(None, name)
                started = time.perf_counter()
                await renderer.template(source, source.example)
                cold.append(time.perf_counter() - started)
            source = renderer.catalog.resolve(None, f"{fmt}/invoice")
            await renderer.template(source, source.example)
            warm = await timed(lambda s=source: renderer.template(s, s.example), WARM)  # type: ignore[misc]
            per_second = await rate(lambda s=source: renderer.template(s, s.example), workers * 4)  # type: ignore[misc]
            ceiling = statistics.median(ping)
            if fmt == "jinja":
                template = jinja.compile_template(source.body, html=True)
                started = time.perf_counter()
                for _ in range(WARM):
                    jinja.render_capped(template, source.example or {}, budget=10**7)
                ceiling = (time.perf_counter() - started) / WARM
            rows.append((label, cold, warm, per_second, ceiling))
        return rows, ping
    finally:
        await renderer.close()
        shutil.rmtree(work, ignore_errors=True)


async def main() -> None:
    workers = 2
    print(f"render benchmark · {os.cpu_count()} CPUs · {workers} Python + {workers} Bun render processes")
    print(f"{'engine':<11}{'cold p50':>10}{'cold p99':>10}{'warm p50':>10}{'warm p99':>10}{'renders/s':>11}"
          f"{'ceiling p50':>13}{'ratio':>7}")  # fmt: skip
    rows, ping = await measure(workers)
    for label, cold, warm, per_second, ceiling in rows:
        cold_cols = f"{pct(cold, 0.5):>9.1f} {pct(cold, 0.99):>9.1f}" if cold else f"{'–':>9} {'–':>9}"
        print(f"{label:<11}{cold_cols} {pct(warm, 0.5):>9.1f} {pct(warm, 0.99):>9.1f} {per_second:>10.0f}"
              f" {ceiling * 1000:>12.2f} {pct(warm, 0.5) / (ceiling * 1000):>6.1f}x")  # fmt: skip
    print(f"IPC floor (no-op round trip to a Python render process): p50 {pct(ping, 0.5):.2f} ms, "
          f"p99 {pct(ping, 0.99):.2f} ms; times in ms")  # fmt: skip
    print("ceiling = in-process render (handlebars, jinja2) or the IPC floor (mjml, react-tsx)")


if __name__ == "__main__":
    asyncio.run(main())
