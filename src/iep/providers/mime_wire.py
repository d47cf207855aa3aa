"""The wire form of a plain message (text and/or HTML, ASCII addresses, no attachments) written directly.

`email.message.EmailMessage` parses every header it is given through the header registry and re-folds it on
output: a third of the send step's CPU (docs/profiles/worker.md). Most transactional mail needs none of that, so
this module writes those messages itself with the same checks as `build_mime` — every value through
`check_header_value`, custom headers through the accept-time allowlist — and the same last defence on the header
block it produced. Anything else (attachments, a non-ASCII local part) goes through `build_mime`.
"""

from __future__ import annotations

import binascii
import functools
import re
import secrets
import time
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr

from iep.providers.base import OutgoingEmail, PermanentProviderError
from iep.providers.mime import (
    ONE_CLICK,
    HeaderInjectionError,
    _check_custom_header,
    _header_address,
    _message_id_domain,
    _unsubscribe_url,
    build_mime,
    check_header_value,
    message_id_of,
    needs_smtputf8,
    normalize_address,
    serialize,
)

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOT_ATOM_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
_CRLF = b"\r\n"
_MAX_LINE = 998  # RFC 5322 §2.1.1: a hard limit; 78 is the recommendation folding aims for
_FOLD_AT = 78


class NotPlain(Exception):
    """The message needs the full builder; nothing is wrong with it."""


def wire(email: OutgoingEmail, *, message_id_domain: str, date: datetime | None = None) -> tuple[bytes, str]:
    """What every provider that sends MIME sends: CRLF bytes and the Message-ID (without brackets)."""
    try:
        return wire_message(email, message_id_domain=message_id_domain, date=date)
    except NotPlain:
        msg = build_mime(email, message_id_domain=message_id_domain, date=date)
        return serialize(msg), message_id_of(msg)


def is_plain(email: OutgoingEmail) -> bool:
    return not email.attachments and not needs_smtputf8(email)


def wire_message(email: OutgoingEmail, *, message_id_domain: str, date: datetime | None = None) -> tuple[bytes, str]:
    """The message as CRLF bytes and its Message-ID (without brackets); raises `NotPlain` for the full builder."""
    if not is_plain(email):
        raise NotPlain()
    if not email.to:
        raise PermanentProviderError("a message needs at least one To recipient")
    if email.text is None and email.html is None:
        raise PermanentProviderError("a message needs a text or an html body")
    message_id = f"{email.message_id}@{_message_id_domain(message_id_domain)}"
    lines: list[bytes] = []
    written: list[str] = []

    def put(name: str, value: str) -> None:
        lines.append(_fold(name, value))
        written.append(name.lower())

    put("From", _address(email.sender.email, email.sender.name, "From"))
    put("To", ", ".join(_address(a, None, "To") for a in email.to))
    if email.cc:
        put("Cc", ", ".join(_address(a, None, "Cc") for a in email.cc))
    if email.reply_to:
        put("Reply-To", _address(email.reply_to, None, "Reply-To"))
    check_header_value("Subject", email.subject)
    put("Subject", email.subject)
    put("Date", format_datetime(date) if date is not None else _date_now())
    put("Message-ID", f"<{message_id}>")
    put("X-IEP-Message-Id", str(email.message_id))
    put("MIME-Version", "1.0")
    for name, value in email.headers.items():
        _check_custom_header(name, value)
        put(name, value)
    if email.list_unsubscribe is not None:
        put("List-Unsubscribe", f"<{_unsubscribe_url(email.list_unsubscribe)}>")
        put("List-Unsubscribe-Post", ONE_CLICK)
    body = _body(email)
    head = _CRLF.join(lines) + _CRLF
    _verify(head, written)
    return head + body, message_id


@functools.lru_cache(maxsize=4096)  # recurring addresses, as `mime._header_address`
def _date_now() -> str:
    """The Date header for now: the same text for a whole second, so it is written once per second."""
    return _date_of_second(int(time.time()))


@functools.lru_cache(maxsize=2)
def _date_of_second(second: int) -> str:
    return format_datetime(datetime.fromtimestamp(second, UTC))


@functools.lru_cache(maxsize=4096)  # recurring addresses, as `mime._header_address`
def _address(address: str, display_name: str | None, field: str) -> str:
    normalized = normalize_address(address, field=field)
    if _DOT_ATOM_ADDRESS.fullmatch(normalized):
        # A dot-atom at a host name is always one valid addr-spec: the strict parser would only agree, slowly.
        if display_name is not None:
            check_header_value(f"{field} display name", display_name)
    else:
        _header_address(address, display_name, field)  # the same single-address check as the full builder
    if not display_name:
        return normalized
    return formataddr((display_name, normalized), charset="utf-8")


def _fold(name: str, value: str) -> bytes:
    if value.isascii() and len(name) + 2 + len(value) <= _FOLD_AT:
        return f"{name}: {value}".encode("ascii")
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, maxlinelen=_FOLD_AT, header_name=name).encode(linesep="\r\n")
    return f"{name}: {folded}".encode("ascii")


def _part(subtype: str, content: str) -> bytes:
    lines = content.encode("utf-8").splitlines()
    if content.isascii() and all(len(line) <= _FOLD_AT for line in lines):
        cte, data = "7bit", _CRLF.join(lines) + _CRLF
    else:
        encoded = binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True)
        cte, data = "quoted-printable", encoded.replace(b"\n", _CRLF)
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    return head.encode("ascii") + _CRLF + data


def _body(email: OutgoingEmail) -> bytes:
    if email.text is None or email.html is None:
        return _part("plain" if email.text is not None else "html", email.text or email.html or "")
    text, html = _part("plain", email.text), _part("html", email.html)
    boundary = f"=_iep_{secrets.token_hex(16)}"
    while boundary.encode() in text or boundary.encode() in html:  # astronomically unlikely; never wrong
        boundary = f"=_iep_{secrets.token_hex(16)}"
    delimiter = b"--" + boundary.encode("ascii")
    head = f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii")
    # The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1), not to the part above it.
    return head + delimiter + _CRLF + text + _CRLF + delimiter + _CRLF + html + _CRLF + delimiter + b"--" + _CRLF


def _verify(head: bytes, written: list[str]) -> None:
    """Last defence, as in `build_mime`: each written header on its own line(s), nothing else, no long line."""
    names: list[str] = []
    for line in head.removesuffix(_CRLF).split(_CRLF):
        if len(line) > _MAX_LINE:
            raise NotPlain()  # an unbreakable token: the full builder decides what to do with it
        if b"\r" in line or b"\n" in line or b"\0" in line:
            raise HeaderInjectionError("the serialised headers hold a bare CR, LF or NUL")
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        if not colon:
            raise HeaderInjectionError(f"the serialised headers hold a stray line {line[:40]!r}")
        names.append(name.decode("ascii", "replace").lower())
    if names != written or "bcc" in names:
        raise HeaderInjectionError("the serialised message has unintended headers")
