"""Retention (seed 003 §9 step 7, ADR 0005) on the fake clock: attachment files older than
ATTACHMENT_RETENTION_DAYS are deleted from local and S3 storage (a moto server), younger ones stay; two sweepers
at once delete each object once; MESSAGE_RETENTION_DAYS blanks old finished messages' bodies and events."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import pytest
from sqlalchemy import text

from iep.attachments import storage
from iep.attachments.storage import AttachmentStore, LocalStore, S3Store, StorageError, StoredObject, make_key
from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.kit.sigv4 import AwsCredentials
from iep.retention.sweeper import RetentionSweeper
from tests.conftest import TenantKey
from tests.support.pipeline import drain

CREDENTIALS = AwsCredentials("AKIDRETENTION", "secret-retention", "us-east-1")
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"
DAY = 86400


class CountingStore:
    """The real store underneath; counts each delete by key (what "deleted once" is measured by)."""

    def __init__(self, inner: AttachmentStore) -> None:
        self.inner = inner
        self.deletes: Counter[str] = Counter()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.inner.put(key, data, content_type)

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        self.deletes[key] += 1
        await asyncio.sleep(0.001)  # let the other sweeper run between deletes
        await self.inner.delete(key)

    async def ready(self) -> None:
        await self.inner.ready()

    async def pages(self) -> AsyncIterator[list[StoredObject]]:
        async for page in self.inner.pages():
            yield page

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CountingStore]:
    if request.param == "local":
        yield CountingStore(LocalStore(tmp_path / "attachments"))
        return
    endpoint = request.getfixturevalue("moto_server")
    bucket = f"iep-retention-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=CREDENTIALS.access_key, aws_secret_access_key=CREDENTIALS.secret_key,
    ).create_bucket(Bucket=bucket)  # fmt: skip
    s3 = S3Store(endpoint=endpoint, bucket=bucket, credentials=CREDENTIALS)
    yield CountingStore(s3)
    await s3.close()


def _sweeper(container: Container, clock: FakeClock, store: AttachmentStore, **days: int) -> RetentionSweeper:
    return RetentionSweeper(
        container.engine,
        clock,
        store,
        attachment_days=days.get("attachment_days", 30),
        message_days=days.get("message_days", 0),
        interval_seconds=60,
        batch=days.get("batch", 100),
    )


async def _accept_with_file(api: httpx.AsyncClient, tenant: TenantKey, n: int = 0) -> str:
    payload = {
        "to": [f"r{n}@example.com"],
        "from": "app@product.example",
        "subject": f"s{n}",
        "textBody": "see attached",
        "attachments": [
            {"filename": "a.pdf", "content": base64.b64encode(PDF).decode(), "contentType": "application/pdf"}
        ],
    }
    resp = await api.post("/v1/messages", json=payload, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    message_id: str = resp.json()["messageId"]
    return message_id


async def _keys(container: Container, message_id: str) -> list[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT storage_key FROM attachments WHERE message_id = :id"), {"id": uuid.UUID(message_id)}
        )
        return [r.storage_key for r in rows]


async def _stored(store: AttachmentStore, key: str) -> bool:
    try:
        await store.get(key)
    except StorageError:
        return False
    return True


async def test_older_attachments_are_deleted_younger_ones_stay(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock, store: CountingStore
) -> None:
    container.attachment_store = store
    old = await _accept_with_file(api, tenant, 1)
    clock.advance(20 * DAY)
    young = await _accept_with_file(api, tenant, 2)
    clock.advance(10 * DAY + 1)  # old: 30 days and a second; young: 10 days
    (old_key,) = await _keys(container, old)
    (young_key,) = await _keys(container, young)
    assert await _stored(store, old_key)

    swept = await _sweeper(container, clock, store).sweep_once()
    assert swept.attachments == 1
    assert not await _stored(store, old_key)
    assert await _stored(store, young_key)
    async with container.engine.connect() as conn:
        purged = dict(
            (await conn.execute(text("SELECT storage_key, purged_at IS NOT NULL AS p FROM attachments"))).all()
        )
    assert purged == {old_key: True, young_key: False}
    # Nothing more to do until the young file's day comes.
    assert (await _sweeper(container, clock, store).sweep_once()).attachments == 0
    clock.advance(20 * DAY)
    assert (await _sweeper(container, clock, store).sweep_once()).attachments == 1
    assert not await _stored(store, young_key)
    assert store.deletes == Counter({old_key: 1, young_key: 1})


async def test_two_sweepers_at_once_delete_each_object_once(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock, store: CountingStore
) -> None:
    container.attachment_store = store
    ids = [await _accept_with_file(api, tenant, n) for n in range(12)]
    keys = [k for message_id in ids for k in await _keys(container, message_id)]
    clock.advance(31 * DAY)
    first, second = (_sweeper(container, clock, store, batch=5) for _ in range(2))
    results = await asyncio.gather(first.sweep_once(), second.sweep_once())
    # One may have found the other at work and left the round to it: sweep again until nothing is left.
    while (await first.sweep_once()).attachments:
        pass
    assert store.deletes == Counter(dict.fromkeys(keys, 1))
    assert sum(r.attachments for r in results) <= len(keys)
    for key in keys:
        assert not await _stored(store, key)


async def test_zero_days_keeps_files_for_ever(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock, store: CountingStore
) -> None:
    container.attachment_store = store
    message_id = await _accept_with_file(api, tenant)
    clock.advance(400 * DAY)
    assert (await _sweeper(container, clock, store, attachment_days=0).sweep_once()).attachments == 0
    (key,) = await _keys(container, message_id)
    assert await _stored(store, key)


async def test_message_retention_blanks_old_finished_bodies_and_their_events(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock, store: CountingStore
) -> None:
    container.attachment_store = store
    payload = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "htmlBody": "<p>secret</p>"}
    old = (await api.post("/v1/messages", json=payload, headers=tenant.headers)).json()["messageId"]
    await drain(container)  # sent
    clock.advance(40 * DAY)
    young = (await api.post("/v1/messages", json=payload, headers=tenant.headers)).json()["messageId"]
    await drain(container)

    swept = await _sweeper(container, clock, store, message_days=30).sweep_once()
    assert swept.messages == 1
    assert swept.events >= 3  # queued, processing, sent
    async with container.engine.connect() as conn:
        rows = {
            str(r.id): (r.status, r.html_body, r.rendered_html, r.events)
            for r in await conn.execute(
                text(
                    "SELECT m.id, m.status, m.html_body, m.rendered_html,"
                    " (SELECT count(e.id) FROM events e WHERE e.message_id = m.id) AS events FROM messages m"
                )
            )
        }
    assert rows[old][:3] == ("sent", None, None)
    assert rows[old][3] == 0
    assert rows[young][0] == "sent"
    assert rows[young][1] == "<p>secret</p>"
    assert rows[young][3] >= 3
    # The message is still found by its id, without its body.
    resp = await api.get(f"/v1/messages/{old}", headers=tenant.headers)
    assert resp.status_code == 200
    assert resp.json()["status"] == "sent"


async def test_files_no_row_names_are_deleted_once_old_by_the_storage_clock(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock, store: CountingStore
) -> None:
    """ADR 0005: an accept that failed after storing its files leaves them with no row; the sweep removes them
    when the storage's own timestamp says they are older than the retention."""
    container.attachment_store = store
    clock.advance((datetime.now(UTC) - clock.now()).total_seconds())  # the fake clock at the storage's time
    orphan = make_key(uuid.uuid4(), uuid.uuid4(), "left-behind.pdf")
    await store.put(orphan, PDF, "application/pdf")
    clock.advance(DAY)
    swept = await _sweeper(container, clock, store).sweep_once()
    assert swept.orphans == 0  # a day old: kept
    assert await _stored(store, orphan)

    clock.advance(30 * DAY)
    # Accepted just now: its row is young, though its file is as old as the orphan by the storage's clock.
    kept = await _accept_with_file(api, tenant)
    (kept_key,) = await _keys(container, kept)
    swept = await _sweeper(container, clock, store).sweep_once()
    assert swept.orphans == 1
    assert not await _stored(store, orphan)
    assert await _stored(store, kept_key)
    assert store.deletes == Counter({orphan: 1})


async def test_listing_pages_through_every_object(store: CountingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "PAGE", 2)  # S3: max-keys=2, so the listing follows continuation tokens
    keys = {make_key(uuid.uuid4(), uuid.uuid4(), f"f{n}.pdf") for n in range(5)}
    for key in keys:
        await store.put(key, PDF, "application/pdf")
    pages = [page async for page in store.pages()]
    assert [len(p) for p in pages] == [2, 2, 1]
    listed = [o for page in pages for o in page]
    assert {o.key for o in listed} == keys
    assert all(abs((o.modified - datetime.now(UTC)).total_seconds()) < 120 for o in listed)
