"""The state machine is the one in iep.messages.status: its guards are read off TRANSITIONS, and the check every
test runs afterwards (tests/conftest.py) catches a write path that leaves it."""

from __future__ import annotations

import asyncpg

from iep.messages.status import CANCELABLE, CLAIMABLE, FINAL, RETRYABLE, TRANSITIONS, Status, sources
from tests.conftest import illegal_moves


def test_every_status_is_reachable_and_the_guards_are_read_off_the_transitions() -> None:
    reachable = {Status.QUEUED, Status.SCHEDULED} | {t for moves in TRANSITIONS.values() for t in moves}
    assert reachable == set(Status)
    assert sources(Status.CANCELED) == CANCELABLE
    assert {Status.FAILED, Status.BOUNCED} == RETRYABLE
    assert {Status.QUEUED, Status.SCHEDULED, Status.RETRY_SCHEDULED} == CLAIMABLE
    assert not FINAL & (CLAIMABLE | {Status.PROCESSING})


def test_the_check_names_a_move_outside_the_machine() -> None:
    moves = [(None, "queued"), ("queued", "processing"), ("processing", "sent"), ("sent", "queued"), (None, "sent")]
    assert illegal_moves(moves) == ["None -> sent", "sent -> queued"]


async def test_the_audit_trigger_sees_a_write_no_code_path_makes(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tenant = await conn.fetchval(
            "INSERT INTO tenants (id, name, slug) VALUES (gen_random_uuid(), 'Probe', 'probe-sm') RETURNING id"
        )
        message = await conn.fetchval(
            'INSERT INTO messages (id, tenant_id, "to", from_email, subject, status) '
            "VALUES (gen_random_uuid(), $1, '{a@example.com}', 'x@product.example', 's', 'queued') RETURNING id",
            tenant,
        )
        await conn.execute("UPDATE messages SET status = 'delivered' WHERE id = $1", message)
        rows = await conn.fetch(
            "DELETE FROM test_audit.status_moves WHERE message_id = $1 RETURNING old_status, new_status", message
        )
        await conn.execute("DELETE FROM tenants WHERE id = $1", tenant)
    finally:
        await conn.close()
    assert illegal_moves([(r["old_status"], r["new_status"]) for r in rows]) == ["queued -> delivered"]
