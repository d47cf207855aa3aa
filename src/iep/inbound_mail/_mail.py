"""Small readers shared by the report parsers: untrusted mail in, plain text out, never an exception."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime

PROVIDER = "smtp"
# What the remote server said is kept for people to read; a few lines of it are enough.
MAX_DIAGNOSTIC = 1000
MAX_ADDRESS = 320
# A message has at most MAX_RECIPIENTS (≤ 1000) recipients: a report naming more is not about ours alone.
MAX_EVENTS = 1000
# How much of a text part the heuristics read: the explanation is at the top, the returned copy below it.
MAX_TEXT = 64 * 1024

# 5.1.1 / 4.2.2 (RFC 3463), not inside an IP address or a version number.
ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# 550 / 452 as a reply code: then a space, a dash (a multi-line reply), a colon (Yahoo) or the end of a line.
REPLY_CODE = re.compile(r"(?<![\d.])([245])\d\d(?=[ :-]|$)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One report as it arrived: for which message (the VERP address), which report, and when."""

    message_id: uuid.UUID
    reference: str  # the report's Message-ID, else a digest of its body: re-delivered, it digests the same
    at: datetime


_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\s@<>()\[\],;:\"]+$")


def text_of(value: object) -> str:
    """A header value as one line of text: RFC 2047 words decoded, bytes that are not UTF-8 replaced."""
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(value)))  # type: ignore[arg-type]
    except Exception:  # a malformed encoded word: the raw value is better than nothing
        text = str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from undecodable bytes
    return " ".join(text.split())


def header(msg: Message, name: str) -> str:
    return text_of(msg.get(name))


def clean_address(value: str) -> str | None:
    """`rfc822; <Ann@Example.COM>` → `Ann@example.com`; None when it is not an address."""
    text = value.strip()
    kind, sep, rest = text.partition(";")
    if sep and "@" not in kind:
        text = rest.strip()
    text = text.strip("<>\"' \t")
    if len(text) > MAX_ADDRESS or not _ADDRESS.match(text):
        return None
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def first_address(value: str) -> str | None:
    for _, address in getaddresses([value]):
        found = clean_address(address)
        if found:
            return found
    return None


def status_class(*texts: str) -> str | None:
    """`5` or `4` (or `2`) from the first enhanced status code in the texts, else from a reply code."""
    for text in texts:
        if match := ENHANCED_STATUS.search(text):
            return match.group(1)
    for text in texts:
        if match := REPLY_CODE.search(text):
            return match.group(1)
    return None


def diagnostic(text: str) -> str | None:
    text = " ".join(text.split())
    return text[:MAX_DIAGNOSTIC] or None


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


def report_reference(msg: Message, raw: bytes) -> str:
    """What makes this report itself: its Message-ID, else its body (relays add Received headers, not a body)."""
    message_id = header(msg, "Message-ID")
    if message_id:
        return message_id
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        head_end = raw.find(b"\n\n")
    body = raw[head_end:] if head_end >= 0 else raw
    return "body:" + hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


def when(value: str, received_at: datetime) -> datetime:
    """A date from the report when it is plausible; the time it arrived otherwise (remote clocks drift)."""
    if value:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=received_at.tzinfo)
            if received_at - timedelta(days=30) <= parsed <= received_at:
                return parsed
    return received_at


def part_text(part: Message) -> str:
    """A leaf part's decoded text, in its declared charset when Python knows it, else UTF-8 with replacement."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(payload, bytes):
        return ""
    payload = payload[:MAX_TEXT]
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def header_blocks(text: str) -> list[Message]:
    """Blocks of `Name: value` fields separated by blank lines (a delivery-status body the parser left whole)."""
    blocks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    parser = HeaderParser()
    return [parser.parsestr(block.strip() + "\n") for block in blocks if block.strip()]


def original_headers(report: Message) -> Message | None:
    """The headers of the message a report is about (message/rfc822 or text/rfc822-headers), if it carries them."""
    for part in report.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            return HeaderParser().parsestr(part_text(part))
    return None


def original_message_id(report: Message) -> str | None:
    original = original_headers(report)
    if original is None:
        return None
    value = header(original, "Message-ID").strip().removeprefix("<").removesuffix(">")
    return value[:MAX_ADDRESS] or None
