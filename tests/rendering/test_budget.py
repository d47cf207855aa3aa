"""Per-tenant render budget: one tenant's runaway templates never take every render process, and a tenant whose
renders keep running into the timeout is told to come back later (RendererUnavailable) instead of taking more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from iep import bootstrap
from iep.config import load_settings
from iep.rendering.budget import RenderBudget
from iep.rendering.errors import RendererUnavailable, RenderTimeout
from iep.rendering.pool import PoolSpec, ProcessPool
from iep.rendering.renderer import Renderer

TIMEOUT_MS = 200
NESTED_EACH = "{{#each a}}{{#each ../a}}{{#each ../../a}}{{this}}{{/each}}{{/each}}{{/each}}"
RUNAWAY = {"a": list(range(300))}  # 27 million iterations: killed at the timeout every time
# A block helper: not the in-process `{{name}}` path, so it takes a pool process like any template.
PLAIN = "{{#if name}}<b>{{name}}</b>{{/if}}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pool(size: int) -> ProcessPool:
    """A pool that is never started: the budget reads only its size and waits on its replacements."""
    return ProcessPool(PoolSpec(name="python", argv=("true",), env={}, size=size))


def test_the_budget_comes_back_as_killed_renders_leave_the_window() -> None:
    clock = FakeClock()
    budget = RenderBudget(seconds=1.0, window=60, clock=clock)
    budget.charge("a", 0.6)
    budget.check("a")  # under the budget: renders go on
    clock.now += 30
    budget.charge("a", 0.6)
    with pytest.raises(RendererUnavailable, match="budget is 1 s"):
        budget.check("a")
    budget.check("b")  # another tenant's budget is its own
    clock.now += 30.5  # the first charge is over a minute old
    assert budget.spent("a") == pytest.approx(0.6)
    budget.check("a")
    clock.now += 30
    assert budget.spent("a") == 0
    budget.charge("a", 5)
    with pytest.raises(RendererUnavailable):
        budget.check("a")


def test_no_budget_and_a_full_share_bound_nothing() -> None:
    budget = RenderBudget()
    budget.charge("a", 1e6)
    budget.check("a")
    assert budget.share_of(_pool(2)) == 2


def test_a_tenant_holds_at_most_its_share_and_at_least_one_process() -> None:
    budget = RenderBudget(max_share=0.5)
    assert [budget.share_of(_pool(n)) for n in (2, 3, 4, 9)] == [1, 1, 2, 4]
    assert RenderBudget(max_share=0.9).share_of(_pool(2)) == 1, "always one process left for the others"


async def test_a_tenant_past_its_share_waits_behind_its_own_renders_not_the_others() -> None:
    budget, pool = RenderBudget(max_share=0.5), _pool(4)
    async with AsyncExitStack() as held:
        for _ in range(2):
            await held.enter_async_context(budget.slot("a", pool))
        entered: list[str] = []

        async def render(tenant: str | None) -> None:
            async with budget.slot(tenant, pool):
                entered.append(tenant)

        third = asyncio.create_task(render("a"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not third.done(), "a third render of `a` waits: two of four processes are its share"
        await render("b")
        await render(None)  # no tenant (an operator's preview): not bounded
        assert entered == ["b", None]
        assert budget.holding("a", pool) == 2
    await third
    assert entered == ["b", None, "a"]
    assert budget.holding("a", pool) == 0


@pytest.fixture
async def renderer(tmp_path: Path) -> AsyncIterator[Renderer]:
    """Two Python render processes and a spare under the real 200 ms timeout; half the pool per tenant."""
    built = Renderer(timeout_ms=TIMEOUT_MS, python_workers=2, budget=RenderBudget(seconds=0.5, max_share=0.5))
    await built.start()
    yield built
    await built.close()


async def _runaways(renderer: Renderer, tenant: str, count: int, ended: list[str]) -> list[asyncio.Task[str]]:
    async def runaway() -> str:
        try:
            await renderer.inline("s", NESTED_EACH, "t", RUNAWAY, tenant=tenant)
        except (RenderTimeout, RendererUnavailable) as exc:
            ended.append(f"{tenant} {type(exc).__name__}")
            return type(exc).__name__
        raise AssertionError("a runaway render finished")

    tasks = [asyncio.create_task(runaway()) for _ in range(count)]
    await asyncio.sleep(0.02)  # the first runaway has its process
    return tasks


async def test_another_tenants_renders_go_on_while_one_tenants_runaways_saturate_the_pool(
    renderer: Renderer,
) -> None:
    renderer.budget.seconds = 0  # the share alone: every runaway waits its turn and is killed
    ended: list[str] = []
    runaways = await _runaways(renderer, "a", 4, ended)  # twice the pool
    held_by_a = []
    for i in range(10):
        rendered = await renderer.inline("Hi", PLAIN, "t", {"name": f"b{i}"}, tenant="b")
        assert rendered.html == f"<b>b{i}</b>"
        ended.append(f"b {i}")
        held_by_a.append(renderer.budget.holding("a", renderer.python))
    waiting = sum(not t.done() for t in runaways)
    outcomes = await asyncio.gather(*runaways)

    # b never waited for a kill: each of its renders was done before any of a's runaways was killed.
    assert ended[:10] == [f"b {i}" for i in range(10)], ended
    assert waiting >= 3, "a's other runaways were waiting for a's share, not holding processes"
    assert max(held_by_a) == 1, "a held one of the two processes, never both"
    assert outcomes == ["RenderTimeout"] * 4, "each runaway still fails at the timeout (T4), in its turn"
    assert renderer.python.killed == 4
    await renderer.python.wait_ready()
    assert len(renderer.python.pids) == 3, "the pool is whole: two in rotation and the spare"


async def test_a_tenant_past_its_budget_is_deferred_and_the_others_are_not(renderer: Renderer) -> None:
    ended: list[str] = []
    runaways = await _runaways(renderer, "a", 6, ended)
    for i in range(10):
        rendered = await renderer.inline("Hi", PLAIN, "t", {"name": f"b{i}"}, tenant="b")
        assert rendered.html == f"<b>b{i}</b>"
        ended.append(f"b {i}")
    outcomes = await asyncio.gather(*runaways)

    assert ended[:10] == [f"b {i}" for i in range(10)], ended
    killed = outcomes.count("RenderTimeout")
    # Each kill costs at least the 200 ms timeout: past 0.5 s (the third kill) a's renders are sent away.
    assert 1 <= killed <= 3
    assert outcomes.count("RendererUnavailable") == 6 - killed, "deferred: retried later, not failed"
    assert renderer.python.killed == killed
    assert renderer.budget.spent("a") >= 0.5

    # While over budget, a's renders that need a process are deferred at once, even harmless ones; its plain
    # `{{name}}` content costs no process and still renders; b is not affected.
    with pytest.raises(RendererUnavailable, match="rendering later"):
        await renderer.inline("Hi", PLAIN, "t", {"name": "a"}, tenant="a")
    plain = await renderer.inline("Hi {{name}}", None, "Dear {{name}}", {"name": "a"}, tenant="a")
    assert plain.text == "Dear a"
    assert (await renderer.inline("Hi", PLAIN, "t", {"name": "b"}, tenant="b")).html == "<b>b</b>"
    assert renderer.python.killed == killed


def test_the_settings_reach_the_renderer(tmp_path: Path) -> None:
    settings = load_settings(
        templates_dist_dir=tmp_path, render_tenant_budget_seconds=3, render_tenant_max_share=0.25, render_workers=8
    )
    built = bootstrap.build_renderer(settings)
    assert (built.budget.seconds, built.budget.max_share) == (3, 0.25)
    assert built.budget.share_of(built.python) == 2
