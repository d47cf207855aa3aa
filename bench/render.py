"""Render time per template engine that exists, against the render budget (RENDER_TIMEOUT_MS)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.payload import send_request
from bench.report import Rate
from bench.stats import percentile
from iep.rendering import handlebars


def _inline_handlebars() -> Callable[[], object]:
    req = send_request()
    variables = req["variables"]

    def render() -> object:
        return (
            handlebars.render(req["subject"], variables),
            handlebars.render(req["htmlBody"], variables),
            handlebars.render(req["textBody"], variables),
        )

    return render


ENGINES: dict[str, Callable[[], Callable[[], object]]] = {
    "handlebars (inline subject + html + text)": _inline_handlebars
}


def measure(iterations: int) -> dict[str, Rate]:
    """Per engine: renders/s of one process and p50/p99 of one render, in this process."""
    results = {}
    for name, factory in ENGINES.items():
        render = factory()
        render()  # parse caches and imports warm
        times = []
        for _ in range(iterations):
            started = time.perf_counter()
            render()
            times.append((time.perf_counter() - started) * 1000)
        results[name] = Rate(1000 * len(times) / sum(times), "renders/s", percentile(times, 50), percentile(times, 99))
    return results
