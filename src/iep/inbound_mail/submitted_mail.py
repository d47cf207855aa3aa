"""A submitted message (D-9) read into the body of `POST /v1/messages`: headers, text and HTML parts, attachments,
and recipients from the envelope (an envelope recipient in no To/Cc header is a Bcc). No I/O here."""

from __future__ import annotations

import base64
import email
import email.policy
import mimetypes
import re
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from typing import Any

from iep.messages.header_safety import custom_header_refusal
from iep.messages.schemas import MAX_CUSTOM_HEADERS

_REGISTRY = HeaderRegistry()
_FOLD = re.compile(r"\r?\n(?=[ \t])")


class Unreadable(ValueError):
    """The message cannot become an IEP message; the text is the SMTP reply's reason."""


def send_payload(raw: bytes, rcpt_tos: list[str]) -> dict[str, Any]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    sender = _addresses(message, "From")
    if len(sender) != 1:
        raise Unreadable("the message needs a From header with exactly one address")
    envelope = {r.lower(): r for r in rcpt_tos}
    to = _in_envelope(_addresses(message, "To"), envelope, taken=set())
    cc = _in_envelope(_addresses(message, "Cc"), envelope, taken={a.lower() for a in to})
    named = {a.lower() for a in (*to, *cc)}
    bcc = [r for r in rcpt_tos if r.lower() not in named]
    if not to:
        raise Unreadable("at least one envelope recipient must be named in the To header")
    payload: dict[str, Any] = {"from": {"email": sender[0][1], "name": sender[0][0] or None}, "to": to}
    if cc:
        payload["cc"] = cc
    if bcc:
        payload["bcc"] = bcc
    subject = _headers(message, "Subject")
    if subject:
        payload["subject"] = str(subject[0])
    reply_to = _addresses(message, "Reply-To")
    if reply_to:
        payload["replyTo"] = reply_to[0][1]
    for kind, field in (("plain", "textBody"), ("html", "htmlBody")):
        part = message.get_body((kind,))
        if part is not None:
            payload[field] = _text(part)
    files = [_attachment(n, part) for n, part in enumerate(message.iter_attachments())]
    if files:
        payload["attachments"] = files
    headers = _custom_headers(message)
    if headers:
        payload["headers"] = headers
    key = str(message["Message-ID"] or "").strip()
    if key and len(key) <= 249 and all(0x21 <= ord(c) <= 0x7E for c in key):
        # A client that resends after a lost reply resends the same Message-ID: one message, not two.
        payload["idempotencyKey"] = f"smtp:{key}"
    return payload


def _headers(message: EmailMessage, name: str) -> list[BaseHeader]:
    """The headers called `name`, parsed; raw UTF-8 (SMTPUTF8, RFC 6532) read as UTF-8, not as escaped bytes."""
    found = []
    for key, raw in message.raw_items():
        if key.lower() == name.lower():
            text = _FOLD.sub("", str(raw).encode("ascii", "surrogateescape").decode("utf-8", "replace"))
            found.append(_REGISTRY(name, text))
    return found


def _addresses(message: EmailMessage, name: str) -> list[tuple[str, str]]:
    found = []
    for header in _headers(message, name):
        for address in getattr(header, "addresses", ()):
            if address.addr_spec and address.addr_spec != "<>":
                found.append((address.display_name, address.addr_spec))
    return found


def _in_envelope(named: list[tuple[str, str]], envelope: dict[str, str], *, taken: set[str]) -> list[str]:
    out: list[str] = []
    for _, address in named:
        lowered = address.lower()
        if lowered in envelope and lowered not in taken:
            taken.add(lowered)
            out.append(envelope[lowered])
    return out


def _text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):  # an unknown charset: read it as UTF-8, replacing what is not
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")  # SMTP's line ends; the MIME builder writes its own


def _attachment(index: int, part: MIMEPart) -> dict[str, Any]:
    content_type = part.get_content_type()
    content_id = str(part["Content-ID"] or "").strip().strip("<>") or None
    filename = part.get_filename()
    if not filename:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        filename = f"{content_id.split('@')[0] if content_id else f'attachment-{index + 1}'}{extension}"
    if content_type == "application/octet-stream":  # what many clients say of any file: the name tells more
        content_type = mimetypes.guess_type(filename)[0] or content_type
    data = part.get_payload(decode=True)
    content = data if isinstance(data, bytes) else b""
    return {
        "filename": filename,
        "content": base64.b64encode(content).decode(),
        "contentType": content_type,
        "contentId": content_id,
    }


def _custom_headers(message: EmailMessage) -> dict[str, str]:
    """The headers a sender may set (the same allowlist as the API); others (Received, DKIM, ...) are dropped."""
    headers: dict[str, str] = {}
    for name, value in message.items():
        if custom_header_refusal(name) is None and name not in headers and len(headers) < MAX_CUSTOM_HEADERS:
            headers[name] = " ".join(str(value).split())
    return headers
