"""Concurrent callers share one call; each gets its own result, in order, or the batch's failure."""

from __future__ import annotations

import asyncio

import pytest

from iep.kit.batching import Batcher


async def test_concurrent_items_share_a_call_and_get_their_own_results() -> None:
    calls: list[list[int]] = []

    async def double(items: list[int]) -> list[int]:
        calls.append(list(items))
        await asyncio.sleep(0.01)
        return [i * 2 for i in items]

    batcher: Batcher[int, int] = Batcher(double, max_batch=8)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    assert results == [i * 2 for i in range(20)]
    assert [len(c) for c in calls] == [8, 8, 4]  # those that arrived together went together
    assert sorted(i for c in calls for i in c) == list(range(20))
    calls.clear()
    assert await batcher.submit(5) == 10  # alone, it goes at once: there is no timer to wait for
    assert calls == [[5]]


async def test_a_failed_batch_fails_each_of_its_callers() -> None:
    async def broken(items: list[int]) -> list[int]:
        raise ConnectionError("gone")

    batcher: Batcher[int, int] = Batcher(broken)
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)


async def test_a_wrong_number_of_results_is_a_failure_not_a_mismatch() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    batcher: Batcher[int, int] = Batcher(short)
    with pytest.raises(RuntimeError, match="answered"):
        await asyncio.gather(batcher.submit(1), batcher.submit(2))


async def test_a_cancelled_caller_does_not_take_its_item_out_of_the_batch() -> None:
    seen: list[int] = []
    release = asyncio.Event()

    async def slow(items: list[int]) -> list[int]:
        seen.extend(items)
        await release.wait()
        return items

    batcher: Batcher[int, int] = Batcher(slow)
    caller = asyncio.create_task(batcher.submit(7))
    await asyncio.sleep(0.01)
    caller.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0.01)
    assert seen == [7]


async def test_linger_waits_between_back_to_back_batches_only() -> None:
    calls: list[list[int]] = []
    ended = asyncio.Event()

    async def record(items: list[int]) -> list[int]:
        calls.append(list(items))
        await asyncio.sleep(0.01)
        ended.set()
        return items

    async def run(linger: float) -> list[list[int]]:
        calls.clear()
        ended.clear()
        batcher: Batcher[int, int] = Batcher(record, linger=linger)
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0)
        second = asyncio.create_task(batcher.submit(2))  # arrives while the first batch runs
        await ended.wait()
        late = asyncio.create_task(batcher.submit(3))  # just after the first batch ended
        await asyncio.gather(first, second, late)
        return list(calls)

    assert await run(0.0) == [[1], [2], [3]]
    # The first batch of a busy stretch goes at once; the next waits, so the late item rides along.
    assert await run(0.2) == [[1], [2, 3]]
