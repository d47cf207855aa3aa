"""record_feedback: consecutive hard bounces up to SUPPRESS_AFTER_HARD_BOUNCES, a complaint at once (F3)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.provider_events.vocabulary import BounceKind, EventType
from iep.suppressions import repository, service
from tests.conftest import TenantKey, make_tenant


async def _tenant_id(container: Container, slug: str) -> uuid.UUID:
    from iep.tenancy.repository import tenant_by_slug

    async with container.engine.connect() as conn:
        row = await tenant_by_slug(conn, slug)
    assert row is not None
    return uuid.UUID(str(row["id"]))


async def _feed(
    container: Container,
    tenant_id: uuid.UUID,
    clock: FakeClock,
    email: str,
    event: EventType,
    bounce: BounceKind | None,
) -> bool:
    async with container.engine.begin() as conn:
        return await service.record_feedback(
            conn,
            tenant_id=tenant_id,
            email=email,
            event=event,
            bounce=bounce,
            now=clock.now(),
            message_id=uuid.UUID(int=7),
            diagnostic="550 5.1.1 user unknown",
        )


async def _suppressed(container: Container, tenant_id: uuid.UUID, clock: FakeClock, *emails: str) -> set[str]:
    async with container.engine.connect() as conn:
        return await service.suppressed_among(conn, tenant_id, emails, clock.now())


async def test_the_third_consecutive_hard_bounce_suppresses(
    container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    tid = await _tenant_id(container, tenant.slug)
    assert service.hard_bounce_threshold() == container.settings.suppress_after_hard_bounces == 3
    answers = [await _feed(container, tid, clock, "Dead@Example.com", EventType.BOUNCED, BounceKind.HARD)]
    answers.append(await _feed(container, tid, clock, "dead@example.com", EventType.BOUNCED, BounceKind.HARD))
    assert await _suppressed(container, tid, clock, "dead@example.com") == set()
    answers.append(await _feed(container, tid, clock, "DEAD@example.com", EventType.BOUNCED, BounceKind.HARD))
    # Already suppressed: a fourth bounce does not "become" suppressed again.
    answers.append(await _feed(container, tid, clock, "dead@example.com", EventType.BOUNCED, BounceKind.HARD))
    assert answers == [False, False, True, False]
    assert await _suppressed(container, tid, clock, "Dead@EXAMPLE.com") == {"dead@example.com"}
    async with container.engine.connect() as conn:
        rows, _ = await service.list(conn, tenant_id=tid, now=clock.now())
    assert len(rows) == 1
    entry = rows[0]
    assert entry["email"] == "dead@example.com"  # stored lower-cased, as the accept statement compares
    assert entry["reason"] == "hard_bounce"
    assert entry["source"] == "provider_event"
    assert entry["message_id"] == uuid.UUID(int=7)
    assert entry["diagnostic"] == "550 5.1.1 user unknown"
    assert entry["expires_at"] is None


async def test_a_delivery_resets_the_count_and_soft_bounces_do_not_count(
    container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    tid = await _tenant_id(container, tenant.slug)
    for event, kind in (
        (EventType.BOUNCED, BounceKind.HARD),
        (EventType.BOUNCED, BounceKind.HARD),
        (EventType.DELIVERED, None),
        (EventType.BOUNCED, BounceKind.HARD),
        (EventType.BOUNCED, BounceKind.SOFT),
        (EventType.BOUNCED, BounceKind.SOFT),
        (EventType.DEFERRED, None),
        (EventType.BOUNCED, BounceKind.HARD),
    ):
        assert await _feed(container, tid, clock, "flaky@example.com", event, kind) is False
    async with container.engine.connect() as conn:
        assert await repository.hard_bounces(conn, tid, "flaky@example.com") == 2
    assert await _suppressed(container, tid, clock, "flaky@example.com") == set()
    assert await _feed(container, tid, clock, "flaky@example.com", EventType.BOUNCED, BounceKind.HARD) is True


async def test_a_complaint_suppresses_at_once_and_is_not_downgraded(
    container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    tid = await _tenant_id(container, tenant.slug)
    assert await _feed(container, tid, clock, "Angry@Example.com", EventType.COMPLAINED, None) is True
    assert await _feed(container, tid, clock, "angry@example.com", EventType.COMPLAINED, None) is False
    for _ in range(3):
        assert await _feed(container, tid, clock, "angry@example.com", EventType.BOUNCED, BounceKind.HARD) is False
    async with container.engine.connect() as conn:
        rows, _ = await service.list(conn, tenant_id=tid, now=clock.now(), email="ANGRY@example.com")
    assert [(r["email"], r["reason"]) for r in rows] == [("angry@example.com", "complaint")]


async def test_feedback_on_an_expired_entry_suppresses_again(
    container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    tid = await _tenant_id(container, tenant.slug)
    async with container.engine.begin() as conn:
        await service.add_manual(
            conn, tenant_id=tid, email="once@example.com", now=clock.now(), expires_at=clock.now() + timedelta(hours=1)
        )
    assert await _suppressed(container, tid, clock, "once@example.com") == {"once@example.com"}
    clock.advance(3601)
    assert await _suppressed(container, tid, clock, "once@example.com") == set()
    assert await _feed(container, tid, clock, "once@example.com", EventType.COMPLAINED, None) is True
    clock.advance(86_400 * 365)
    assert await _suppressed(container, tid, clock, "once@example.com") == {"once@example.com"}


async def test_feedback_is_per_tenant_and_in_the_callers_transaction(
    container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    tid = await _tenant_id(container, tenant.slug)
    other = await _tenant_id(container, (await make_tenant(container, "other")).slug)
    async with container.engine.connect() as conn:
        trans = await conn.begin()
        became = await service.record_feedback(
            conn, tenant_id=tid, email="x@example.com", event=EventType.COMPLAINED, bounce=None, now=clock.now()
        )
        await trans.rollback()  # nothing committed inside: the caller's rollback undoes it
    assert became is True
    assert await _suppressed(container, tid, clock, "x@example.com") == set()
    assert await _feed(container, tid, clock, "x@example.com", EventType.COMPLAINED, None) is True
    assert await _suppressed(container, other, clock, "x@example.com") == set()
