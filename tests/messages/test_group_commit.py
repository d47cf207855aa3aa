"""Group commit (SPEC B2): concurrent accepts share a commit, and each message keeps its own outcome."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.bootstrap import Container
from iep.kit.db import asyncpg_dsn, create_engine
from iep.kit.driver import Driver
from iep.kit.ids import uuid7
from iep.messages import repository
from iep.messages.group_commit import GroupCommit, write_many
from iep.messages.models import messages
from iep.outbox.models import outbox
from iep.queue.models import queue_jobs
from iep.queue.port import SEND_QUEUE
from tests.conftest import TenantKey
from tests.support.accepted import committed

PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


def _params(tenant_id: uuid.UUID, key: str | None, container: Container) -> dict[str, Any]:
    new = repository.NewMessage(
        tenant_id=tenant_id,
        to=["a@example.com"],
        cc=[],
        bcc=[],
        from_email="x@product.example",
        from_name=None,
        reply_to=None,
        subject="S",
        html_body=None,
        text_body="T",
        variables=None,
        metadata=None,
        tags=[],
        headers=None,
        priority="normal",
        max_attempts=5,
        idempotency_key=key,
        request_hash="h",
        trace_id=None,
        scheduled_at=None,
    )
    return repository.accept_params(new, container.clock.now())


async def _tenant_id(container: Container) -> uuid.UUID:
    async with container.engine.connect() as conn:
        found: uuid.UUID = (await conn.execute(select(messages.c.tenant_id).limit(1))).scalar_one()
    return found


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    original = repository.insert_accepted_many

    async def recording(conn: Any, batch: list[dict[str, Any]]) -> Any:
        sizes.append(len(batch))
        return await original(conn, batch)

    monkeypatch.setattr(repository, "insert_accepted_many", recording)
    return sizes


async def test_concurrent_accepts_share_commits_and_each_gets_its_own_message(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, batch_sizes: list[int]
) -> None:
    responses = await asyncio.gather(
        *(api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers) for _ in range(60))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["messageId"] for r in responses}) == 60
    assert await committed(container) == (60, 60, 60), "every message with its queued event and outbox row"
    assert batch_sizes, "some accepts were written together"
    assert max(batch_sizes) > 1


async def test_the_same_key_twice_in_one_batch_inserts_once(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    tenant_id = await _tenant_id(container)
    group = GroupCommit(container.driver)
    first, second = _params(tenant_id, "dup", container), _params(tenant_id, "dup", container)
    rows = await asyncio.gather(group.insert(first), group.insert(second))
    assert [r is not None for r in rows] == [True, False], "the second finds the key taken and inserts nothing"
    assert await committed(container) == (2, 2, 2)


async def test_a_bad_row_fails_only_its_own_accept(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, batch_sizes: list[int]
) -> None:
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    tenant_id = await _tenant_id(container)
    group = GroupCommit(container.driver)
    good = [_params(tenant_id, None, container) for _ in range(5)]
    orphan = _params(uuid.uuid4(), None, container)  # no such tenant: the foreign key refuses it
    results = await asyncio.gather(*(group.insert(p) for p in [*good[:2], orphan, *good[2:]]), return_exceptions=True)
    assert 6 in batch_sizes, "the six were sent as one batch"
    assert isinstance(results[2], IntegrityError)
    assert [r["id"] for r in results if isinstance(r, dict)] == [p["id"] for p in good]
    assert await committed(container) == (6, 6, 6)


# What asyncpg raises for a statement on a connection whose backend is gone, depending on when it notices.
_LINK_LOST = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def test_a_batch_whose_connection_was_killed_fails_and_the_connection_leaves_the_pool(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, database_url: str
) -> None:
    # On SQLAlchemy's connection the batch runs on the driver's connection, where SQLAlchemy does not see the
    # error: the pool must not hand the dead connection to the next caller (most recently returned first, and not
    # idle long enough for a ping).
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    tenant_id = await _tenant_id(container)
    engine = create_engine(database_url, pool_size=1)
    try:
        killed = await _backend_pid(engine)
        await _terminate(database_url, killed)
        batch = [_params(tenant_id, None, container) for _ in range(3)]
        async with engine.connect() as conn:
            with pytest.raises(_LINK_LOST):
                await repository.insert_accepted_many(conn, batch)
        assert await _backend_pid(engine) != killed
    finally:
        await engine.dispose()


async def test_a_group_commit_whose_connection_was_killed_writes_on_a_new_one(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, database_url: str
) -> None:
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    tenant_id = await _tenant_id(container)
    driver = Driver(database_url, size=1)
    try:
        killed = (await driver.fetch(text("SELECT pg_backend_pid() AS pid"), {}))[0]["pid"]
        await _terminate(database_url, killed)
        batch = [_params(tenant_id, None, container) for _ in range(3)]
        # The batch fails on the dead connection (or the kill was noticed first); either way the next one serves.
        written = await write_many(driver, batch)
        if not all(isinstance(r, dict) for r in written):
            written = await write_many(driver, batch)
        assert (await driver.fetch(text("SELECT pg_backend_pid() AS pid"), {}))[0]["pid"] != killed
    finally:
        await driver.close()
    assert [r["id"] for r in written if isinstance(r, dict)] == [p["id"] for p in batch]


async def _terminate(database_url: str, pid: int) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_batch_answers_each_inserted_row_and_none_for_a_taken_key(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    tenant_id = await _tenant_id(container)
    taken = _params(tenant_id, "taken", container)
    assert await write_many(container.driver, [taken]) != [None]
    batch = [_params(tenant_id, None, container), _params(tenant_id, "taken", container)]
    first, second = await write_many(container.driver, batch)
    assert isinstance(first, dict)
    assert (first["id"], first["status"], first["suppressed_recipients"]) == (batch[0]["id"], "queued", [])
    assert second is None


def _rich_params(tenant_id: uuid.UUID, container: Container, *, headers: dict[str, str] | None) -> dict[str, Any]:
    new = repository.NewMessage(
        tenant_id=tenant_id,
        to=["A@Example.com", "b@example.com"],
        cc=["c@example.com"],
        bcc=[],
        from_email="x@product.example",
        from_name="Zoë",
        reply_to=None,
        subject="S",
        html_body="<p>{{name}}</p>",
        text_body=None,
        variables={"name": "Zoë \u2028 \"q\"", "n": 1.5, "big": 1e16, "tree": {"a": [1, None, True, -0.0]}},
        metadata={"category": "receipt", "é": ["x"]},
        tags=["t1"],
        headers=headers,
        priority="high",
        max_attempts=5,
        idempotency_key=None,
        request_hash="h",
        trace_id="0af7651916cd43dd8448eb211c80319c",
        scheduled_at=None,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        id=uuid7(),
        attachments=(
            {"id": uuid7(), "filename": "a.txt", "content_type": "text/plain", "size_bytes": 3,
             "storage_key": "k/a.txt", "content_id": None},
        ),
    )  # fmt: skip
    return repository.accept_params(new, container.clock.now())


@pytest.mark.parametrize("headers", [None, {"X-Campaign": "spring"}])
async def test_the_driver_s_batch_stores_what_sqlalchemy_s_insert_stores(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, headers: dict[str, str] | None
) -> None:
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    tenant_id = await _tenant_id(container)
    through_driver = _rich_params(tenant_id, container, headers=headers)
    through_sqlalchemy = _rich_params(tenant_id, container, headers=headers)
    assert isinstance((await write_many(container.driver, [through_driver]))[0], dict)
    async with container.engine.connect() as pooled:
        conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        assert await repository.insert_accepted(conn, through_sqlalchemy) is not None
    # As PostgreSQL has them: jsonb as text, and SQL NULL apart from JSON's null (Python reads both as None).
    row = text(
        """SELECT m."to", m.cc, m.recipients, m.from_name, m.priority, m.trace_id, m.status,
             coalesce(m.variables::text, 'SQL NULL'), coalesce(m.metadata::text, 'SQL NULL'),
             coalesce(m.headers::text, 'SQL NULL'), coalesce(o.payload::text, 'SQL NULL'), o.priority,
             (SELECT array_agg(a.filename || a.content_type || a.size_bytes || a.storage_key
                               || coalesce(a.content_id, 'SQL NULL')) FROM attachments a WHERE a.message_id = m.id),
             (SELECT array_agg(e.type) FROM events e WHERE e.message_id = m.id)
           FROM messages m JOIN outbox o ON o.message_id = m.id WHERE m.id = :id"""
    )
    async with container.engine.connect() as conn:
        stored = [tuple((await conn.execute(row, {"id": p["id"]})).one()) for p in (through_driver, through_sqlalchemy)]
    assert stored[0] == stored[1]


async def test_with_the_postgres_queue_the_accept_commits_the_job_itself_and_wakes_the_workers(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    assert container.accepts_into_queue, "the suite's container runs the postgres queue"
    listener = await asyncpg.connect(asyncpg_dsn(container.database_url))
    woken = asyncio.Event()
    await listener.add_listener("iep_jobs", lambda *_: woken.set())
    try:
        accepted = await api.post("/v1/messages", json={**PAYLOAD, "priority": "high"}, headers=tenant.headers)
        assert accepted.status_code == 202, accepted.text
        await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await listener.close()
    async with container.engine.connect() as conn:
        jobs = (await conn.execute(select(queue_jobs))).mappings().all()
        waiting = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert waiting == 0, "no outbox row for the relay to move"
    assert [(j["queue"], str(j["message_id"]), j["priority"], j["deliveries"], j["locked_by"]) for j in jobs] == [
        (SEND_QUEUE, accepted.json()["messageId"], 0, 0, None)
    ]


@pytest.mark.parametrize("into_queue", [True, False])
async def test_the_job_a_traced_accept_owes_carries_its_traceparent_whichever_way_it_goes(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, into_queue: bool
) -> None:
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202
    rich = {**_rich_params(await _tenant_id(container), container, headers=None), "into_queue": into_queue}
    assert isinstance((await write_many(container.driver, [rich]))[0], dict)
    async with container.engine.connect() as conn:
        jobs = (await conn.execute(select(queue_jobs).where(queue_jobs.c.message_id == rich["id"]))).mappings().all()
        rows = (await conn.execute(select(outbox).where(outbox.c.message_id == rich["id"]))).mappings().all()
    owed = jobs if into_queue else rows
    assert len(jobs) + len(rows) == len(owed) == 1, "one job owed, in the queue or in the outbox, never both"
    assert (owed[0]["priority"], owed[0]["payload"]) == (0, {"traceparent": rich["outbox_payload"]["traceparent"]})
