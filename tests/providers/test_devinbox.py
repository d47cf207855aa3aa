"""The dev inbox keeps each mail as the exact bytes SMTP would send, and lists them newest first."""

from __future__ import annotations

import email
import json
import uuid
from email import policy
from pathlib import Path

from iep.providers.base import Address, OutgoingEmail
from iep.providers.devinbox import DevInboxProvider, list_inbox

DOMAIN = "mail.iep.example"


def make_email(subject: str) -> OutgoingEmail:
    return OutgoingEmail(
        message_id=uuid.uuid4(),
        sender=Address("sender@iep.example", "IEP Sender"),
        to=("alice@example.com",),
        cc=("carol@example.com",),
        bcc=("hidden@example.com",),
        subject=subject,
        html="<p>Hello</p>",
        text="Hello",
    )


async def test_send_writes_eml_and_sidecar(tmp_path: Path) -> None:
    inbox = DevInboxProvider(directory=tmp_path / "inbox", message_id_domain=DOMAIN)
    mail = make_email("Grüße")
    result = await inbox.send(mail)

    [eml] = (tmp_path / "inbox").glob("*.eml")
    [sidecar] = (tmp_path / "inbox").glob("*.json")
    assert eml.name.endswith(f"_{mail.message_id}.eml")
    assert sidecar.stem == eml.stem
    assert not list((tmp_path / "inbox").glob(".*"))  # no temporary file left behind

    raw = eml.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF, as on the wire
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "Grüße"
    assert "Bcc" not in msg
    assert b"hidden@example.com" not in raw
    assert msg["Message-ID"] == f"<{result.provider_message_id}>"

    meta = json.loads(sidecar.read_text())
    assert meta["messageId"] == str(mail.message_id)
    assert meta["envelopeFrom"] == "sender@iep.example"
    assert meta["envelopeTo"] == ["alice@example.com", "carol@example.com", "hidden@example.com"]
    assert meta["subject"] == "Grüße"
    assert meta["receivedAt"].startswith("20")
    assert result.provider == "devinbox"


async def test_list_inbox_is_newest_first_and_limited(tmp_path: Path) -> None:
    inbox = DevInboxProvider(directory=tmp_path, message_id_domain=DOMAIN)
    mails = [make_email(f"mail {i}") for i in range(3)]
    for mail in mails:
        await inbox.send(mail)

    listed = list_inbox(tmp_path)
    assert [entry["subject"] for entry in listed] == ["mail 2", "mail 1", "mail 0"]
    assert listed[0]["messageId"] == str(mails[2].message_id)
    assert str(listed[0]["eml"]).startswith(str(tmp_path))
    assert str(listed[0]["eml"]).endswith(f"_{mails[2].message_id}.eml")
    assert [entry["subject"] for entry in list_inbox(tmp_path, limit=2)] == ["mail 2", "mail 1"]


async def test_list_inbox_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert list_inbox(tmp_path / "nothing-yet") == []


async def test_a_damaged_sidecar_does_not_hide_the_rest(tmp_path: Path) -> None:
    inbox = DevInboxProvider(directory=tmp_path, message_id_domain=DOMAIN)
    await inbox.send(make_email("kept"))
    (tmp_path / "99999999T000000000000Z_broken.json").write_text("{not json")
    assert [entry["subject"] for entry in list_inbox(tmp_path)] == ["kept"]


async def test_health_and_close(tmp_path: Path) -> None:
    inbox = DevInboxProvider(directory=tmp_path / "new", message_id_domain=DOMAIN)
    assert await inbox.check_health()
    await inbox.close()
