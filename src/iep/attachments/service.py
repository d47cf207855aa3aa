"""Attachments around the accept and send steps: store before the insert, fetch at send time (D-4)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import structlog

from iep.attachments.storage import AttachmentStore, StorageError, make_key
from iep.kit.problems import Problem
from iep.providers.base import Attachment

log = structlog.get_logger("iep.attachments")


class StorageUnavailable(Problem):
    status, type_, title = 503, "attachment-storage-unavailable", "Attachment storage is unavailable; retry"


class Incoming(Protocol):
    filename: str
    content: bytes
    content_type: str
    content_id: str | None


async def store_all(
    store: AttachmentStore | None, tenant_id: uuid.UUID, message_id: uuid.UUID, files: Sequence[Incoming]
) -> tuple[dict[str, Any], ...]:
    """Put every file under a key made here; the rows to insert with the message. All or none are kept."""
    if not files:
        return ()
    if store is None:
        raise StorageUnavailable("this deployment has no attachment storage configured")
    rows: list[dict[str, Any]] = []
    try:
        for f in files:
            key = make_key(tenant_id, message_id, f.filename)
            await store.put(key, f.content, f.content_type)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size_bytes": len(f.content),
                    "storage_key": key,
                    "content_id": f.content_id,
                }
            )
    except StorageError as exc:
        await discard(store, tuple(rows))
        log.warning("attachment_store_failed", error=str(exc))
        raise StorageUnavailable() from exc
    return tuple(rows)


async def discard(store: AttachmentStore | None, rows: tuple[dict[str, Any], ...]) -> None:
    """Best effort: what cannot be deleted now is left to the retention sweep."""
    if store is None:
        return
    for row in rows:
        try:
            await store.delete(row["storage_key"])
        except StorageError as exc:
            log.warning("attachment_discard_failed", key=row["storage_key"], error=str(exc))


async def fetch_all(store: AttachmentStore | None, rows: Sequence[dict[str, Any]]) -> tuple[Attachment, ...]:
    """The message's files, read back at send time; StorageError when the store cannot answer (retried)."""
    if not rows:
        return ()
    if store is None:
        raise StorageError("the message has attachments but no attachment storage is configured")
    return tuple(
        [Attachment(r["filename"], await store.get(r["storage_key"]), r["content_type"], r["content_id"]) for r in rows]
    )
