"""Where attachment bytes live between accept and send (D-4): a local directory in dev, S3-compatible storage
otherwise. Keys are made here only — `{tenant}/{message}/{uuid}_{filename}` — never taken from a request."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

import httpx

from iep.kit.sigv4 import AwsCredentials, signed_headers


class StorageError(Exception):
    """The store could not be reached or refused: the caller retries (send) or answers 503 (accept)."""


PAGE = 1000


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified: datetime


class AttachmentStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def ready(self) -> None:
        """Raise StorageError when the storage cannot be reached (readiness)."""

    def pages(self) -> AsyncIterator[list[StoredObject]]:
        """Every stored object, a page at a time (the retention sweep looks for files no row names)."""
        ...

    async def close(self) -> None: ...


def make_key(tenant_id: uuid.UUID, message_id: uuid.UUID, filename: str) -> str:
    """The one place a storage key is made. The filename was validated as a plain name; the uuid keeps two
    files of the same name apart."""
    if "/" in filename or "\\" in filename or filename in ("", ".", ".."):
        raise ValueError("an attachment filename must be a plain name")
    return f"{tenant_id}/{message_id}/{uuid.uuid4()}_{filename}"


class LocalStore:
    def __init__(self, directory: Path) -> None:
        self._root = directory.resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):  # a key is ours, but a store never trusts a path blindly
            raise StorageError("the storage key leaves the attachments directory")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(_write, self._path(key), data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except OSError as exc:
            raise StorageError(f"attachment {key} cannot be read: {exc}") from exc

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)

    async def ready(self) -> None:
        await asyncio.to_thread(self._writable)

    async def pages(self) -> AsyncIterator[list[StoredObject]]:
        found = await asyncio.to_thread(self._walk)
        for start in range(0, len(found), PAGE):
            yield found[start : start + PAGE]

    def _walk(self) -> list[StoredObject]:
        found = []
        for folder, _, files in os.walk(self._root):
            for name in files:
                if name.startswith(".upload."):  # a write in progress, renamed into place when complete
                    continue
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):
                    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    found.append(StoredObject(str(path.relative_to(self._root)), modified))
        return found

    def _writable(self) -> None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"the attachments directory cannot be made: {exc}") from exc
        if not os.access(self._root, os.W_OK | os.X_OK):
            raise StorageError(f"the attachments directory {self._root} is not writable")

    async def close(self) -> None:
        return None


class S3Store:
    """S3's REST API (PUT/GET/DELETE Object), path-style so MinIO and moto work too, SigV4-signed."""

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        credentials: AwsCredentials,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = f"{endpoint.rstrip('/')}/{bucket}"
        self._credentials = credentials
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), transport=transport)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call("PUT", key, data, {"Content-Type": content_type})

    async def get(self, key: str) -> bytes:
        return (await self._call("GET", key)).content

    async def ready(self) -> None:
        await self._call("HEAD", "")

    async def pages(self) -> AsyncIterator[list[StoredObject]]:
        """ListObjectsV2, a page per request."""
        # Only the retention sweeper lists: lxml (~6 MB resident) stays out of the roles that never do.
        from lxml import etree

        # Parsed without entities or network access: the answer comes from storage, not from us.
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        token: str | None = None
        while True:
            params = {"list-type": "2", "max-keys": str(PAGE)} | ({"continuation-token": token} if token else {})
            response = await self._call("GET", "", query=urlencode(sorted(params.items()), quote_via=quote))
            try:
                root = etree.fromstring(response.content, parser=parser)
            except etree.XMLSyntaxError as exc:
                raise StorageError(f"S3 list: not XML: {exc}") from exc
            yield [
                StoredObject(
                    str(item.findtext("{*}Key")), datetime.fromisoformat(str(item.findtext("{*}LastModified")))
                )
                for item in root.findall("{*}Contents")
            ]
            token = root.findtext("{*}NextContinuationToken")
            if root.findtext("{*}IsTruncated") != "true" or not token:
                return

    async def delete(self, key: str) -> None:
        await self._call("DELETE", key, ok=(200, 204, 404))

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(
        self,
        method: str,
        key: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (),
        query: str = "",
    ) -> httpx.Response:
        url = f"{self._base}/{quote(key, safe='/')}" + (f"?{query}" if query else "")
        signed = signed_headers(
            method, url, headers=dict(headers or {}), body=body, service="s3", credentials=self._credentials
        )
        try:
            response = await self._client.request(method, url, headers=signed, content=body)
        except httpx.HTTPError as exc:
            raise StorageError(f"S3 {method} {key}: {type(exc).__name__}: {exc}") from exc
        if not (response.is_success or response.status_code in ok):
            raise StorageError(f"S3 {method} {key}: {response.status_code} {response.text[:200]}")
        return response


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
