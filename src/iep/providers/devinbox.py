"""The development inbox: each mail kept as the exact `.eml` SMTP would send, plus a JSON sidecar."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from iep.providers.base import OutgoingEmail, Ready, SendResult
from iep.providers.mime import envelope_recipients, envelope_sender
from iep.providers.mime_wire import wire

# Told of each stored mail (message id, its Message-ID, envelope recipients): the dev simulator's hook.
SentHook = Callable[[uuid.UUID, str, Sequence[str]], None]


class DevInboxProvider:
    name: str

    def __init__(self, *, directory: Path, message_id_domain: str, name: str = "devinbox") -> None:
        self.name = name
        self._directory = directory
        self._message_id_domain = message_id_domain
        self.on_sent: SentHook | None = None

    async def send(self, email: OutgoingEmail, *, ready: Ready | None = None) -> SendResult:
        if ready is not None:
            ready()
        received = datetime.now(UTC)
        data, message_id = wire(email, message_id_domain=self._message_id_domain, date=received)
        # The timestamp first, so that file names sort oldest to newest.
        stem = f"{received:%Y%m%dT%H%M%S%fZ}_{email.message_id}"
        sidecar: dict[str, object] = {
            "messageId": str(email.message_id),
            "envelopeFrom": envelope_sender(email),
            "envelopeTo": envelope_recipients(email),
            "subject": email.subject,
            "receivedAt": received.isoformat(),
        }
        await asyncio.to_thread(_store, self._directory, stem, data, sidecar)
        if self.on_sent is not None:
            self.on_sent(email.message_id, message_id, envelope_recipients(email))
        return SendResult(provider=self.name, provider_message_id=message_id, response=f"stored {stem}.eml")

    async def check_health(self) -> bool:
        return await asyncio.to_thread(_writable, self._directory)

    async def close(self) -> None:
        return None


def list_inbox(directory: Path, limit: int = 50) -> list[dict[str, object]]:
    """The newest `limit` mails, newest first, as their sidecars plus the `.eml` path."""
    if not directory.is_dir():
        return []
    entries: list[dict[str, object]] = []
    for sidecar in sorted(directory.glob("*.json"), reverse=True):
        if len(entries) >= limit:
            break
        try:
            entry = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # removed or damaged by hand: the rest of the inbox still lists
        if isinstance(entry, dict):
            entries.append({**entry, "eml": str(sidecar.with_suffix(".eml"))})
    return entries


def _store(directory: Path, stem: str, eml: bytes, sidecar: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    # The .eml lands before its sidecar, so whatever list_inbox finds can be opened.
    _write_atomically(directory / f"{stem}.eml", eml)
    _write_atomically(directory / f"{stem}.json", json.dumps(sidecar, indent=2).encode("utf-8"))


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: a reader sees the whole file or none of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK)
