"""FairSlots: freed slots go to waiting keys in turn, and a caller that gives up loses no slot."""

from __future__ import annotations

import asyncio

import pytest

from iep.kit.fair_slots import FairSlots


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_key_that_arrives_late_waits_for_one_turn_not_for_the_whole_line() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")  # a flood holds the one slot ...
    order: list[str] = []

    async def take(key: str) -> None:
        await slots.acquire(key)
        order.append(key)
        slots.release()

    flood = [asyncio.create_task(take("a")) for _ in range(10)]
    await _settle()
    quiet = asyncio.create_task(take("b"))  # ... and has ten more waiting when b comes
    await _settle()
    slots.release()
    await asyncio.gather(*flood, quiet)
    assert order.index("b") <= 1, order  # served after at most one of a's
    assert order.count("a") == 10


async def test_without_contention_a_slot_is_taken_at_once_and_the_count_is_kept() -> None:
    slots = FairSlots(2)
    await slots.acquire("a")
    await slots.acquire("b")
    third = asyncio.create_task(slots.acquire("c"))
    await _settle()
    assert not third.done()
    assert slots.waiting == 1
    slots.release()
    await asyncio.wait_for(third, 1)
    assert slots.waiting == 0


async def test_a_waiter_that_gives_up_leaves_its_line_and_loses_no_slot() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")
    gave_up = asyncio.create_task(slots.acquire("b"))
    await _settle()
    gave_up.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gave_up
    assert slots.waiting == 0
    slots.release()
    await asyncio.wait_for(slots.acquire("c"), 1)  # the slot came back, not to the caller that left


async def test_a_slot_granted_as_its_waiter_is_cancelled_goes_on_to_the_next() -> None:
    slots = FairSlots(1)
    await slots.acquire("a")
    first = asyncio.create_task(slots.acquire("b"))
    second = asyncio.create_task(slots.acquire("c"))
    await _settle()
    slots.release()  # granted to b's waiter ...
    first.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)  # the slot went on to c
