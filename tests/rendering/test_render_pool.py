"""T4: a runaway render is killed at the timeout, the caller hears at once, the pool stays whole and warm."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest

from iep.rendering.errors import RenderError, RenderTimeout, RenderTooLarge
from iep.rendering.pool import ProcessPool
from iep.rendering.renderer import python_pool, sandbox_env

TIMEOUT = 0.2
# The caller must hear within the timeout plus scheduling noise on a shared 2-core machine.
MARGIN = 0.3

NESTED_EACH = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{this}}{{/each}}{{/each}}{{/each}}"
RUNAWAYS = {
    "jinja nested loops": (
        "jinja",
        "{% for a in range(100000) %}{% for b in range(100000) %}{{ b }}{% endfor %}{% endfor %}",
        {},
    ),
    "jinja nested loops over data": (
        "jinja",
        "{% for a in xs %}{% for b in xs %}{% for c in xs %}.{% endfor %}{% endfor %}{% endfor %}",
        {"xs": list(range(1000))},
    ),
    "jinja 9**999999": ("jinja", "{{ 9**999999 }}", {}),
    "jinja 9**999999 spelled as a filter": ("jinja", "{{ (9, 999999)|join('**') }}{{ 99**99999 }}", {}),
    "jinja 1 GB string": ("jinja", "{{ 'a' * 1000000000 }}", {}),
    "jinja 1 GB through format": ("jinja", "{{ '{:>999999999}'.format(1) }}", {}),
    "jinja 1 GB in pieces": ("jinja", "{% for i in range(100000) %}{{ 'x' * 10000 }}{% endfor %}", {}),
    "handlebars triple nested each over large data": ("handlebars", NESTED_EACH, {"a": list(range(300))}),
    "handlebars 1 GB output": (
        "handlebars",
        "{{#each a}}{{#each ../a}}{{#each ../../a}}{{{../../../big}}}{{/each}}{{/each}}{{/each}}",
        {"a": list(range(100)), "big": "x" * 1000},
    ),
}


def _request(engine: str, source: str, data: dict[str, object]) -> dict[str, object]:
    if engine == "jinja":
        return {"op": "jinja", "key": source, "subject": "s", "html": source, "data": data}
    return {"op": "handlebars", "subject": "s", "html": source, "text": None, "data": data}


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    started = python_pool(2)
    await started.start()
    yield started
    await started.close()


async def _healthy(pool: ProcessPool) -> None:
    reply = await pool.call(_request("jinja", "<p>{{ n }}</p>", {"n": "ok"}), time_limit=TIMEOUT)
    assert reply["html"] == "<p>ok</p>"


@pytest.mark.parametrize("name", list(RUNAWAYS))
async def test_runaway_renders_fail_within_the_timeout_and_the_next_render_works(pool: ProcessPool, name: str) -> None:
    engine, source, data = RUNAWAYS[name]
    started = time.monotonic()
    with pytest.raises((RenderTimeout, RenderTooLarge)) as caught:
        await pool.call(_request(engine, source, data), time_limit=TIMEOUT)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + MARGIN, f"{name}: heard after {elapsed:.3f}s"
    assert caught.value.reason in {"render_timeout", "render_too_large"}
    # The next render is served at once, by a live process, and the pool is back to full strength.
    await _healthy(pool)
    await pool.wait_ready()
    assert len(pool.pids) == 3, "two in rotation and one warm spare"
    for pid in pool.pids:
        os.kill(pid, 0)  # raises if that process is gone


async def test_a_killed_render_does_not_hold_up_the_others(pool: ProcessPool) -> None:
    runaway = asyncio.create_task(
        pool.call(_request("handlebars", NESTED_EACH, {"a": list(range(300))}), time_limit=TIMEOUT)
    )
    await asyncio.sleep(0.02)  # the runaway has its process; the other one serves everyone else
    waits = []
    for i in range(30):
        started = time.monotonic()
        reply = await pool.call(_request("jinja", "<b>{{ i }}</b>", {"i": i}), time_limit=TIMEOUT)
        waits.append(time.monotonic() - started)
        assert reply["html"] == f"<b>{i}</b>"
    with pytest.raises(RenderTimeout):
        await runaway
    assert max(waits) < TIMEOUT, f"a render waited {max(waits):.3f}s behind the runaway"
    assert pool.killed == 1


async def test_replacements_are_warm_before_they_take_traffic(pool: ProcessPool) -> None:
    for _ in range(3):
        with pytest.raises(RenderTimeout):
            await pool.call(_request("handlebars", NESTED_EACH, {"a": list(range(300))}), time_limit=TIMEOUT)
    await pool.wait_ready()
    # Each replacement's first render is a warm one: far inside the timeout, never killed again.
    for _ in range(4):
        started = time.monotonic()
        await _healthy(pool)
        assert time.monotonic() - started < TIMEOUT
    assert pool.killed == 3
    assert pool.spawned == 6


async def test_template_errors_do_not_cost_a_process(pool: ProcessPool) -> None:
    pids = pool.pids
    with pytest.raises(RenderError, match="line 1"):
        await pool.call(_request("jinja", "{% for x in %}", {}), time_limit=TIMEOUT)
    with pytest.raises(RenderError):
        await pool.call(_request("handlebars", "{{#if x}}open", {}), time_limit=TIMEOUT)
    assert pool.pids == pids
    assert pool.killed == 0


def test_render_processes_get_none_of_our_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@db/iep")
    monkeypatch.setenv("IEP_ENCRYPTION_KEY", "secret-key")
    env = sandbox_env()
    assert set(env) == {"PATH", "LANG", "LC_ALL"}
    assert "secret" not in "".join(env.values())
