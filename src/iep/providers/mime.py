"""The one MIME builder: every provider turns an `OutgoingEmail` into bytes here and nowhere else.

Every header value is checked again here, whatever was validated upstream, because this is the last point
where a CR or LF can be stopped before it becomes a header of its own (SPEC §4, CVE-2024-6923).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email import policy as email_policy
from email.errors import HeaderParseError
from email.header import decode_header
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime

import idna

from iep.messages.header_safety import LINE_BREAKS, custom_header_refusal
from iep.providers.base import Attachment, OutgoingEmail, PermanentProviderError

_RAW_BREAKS = (b"\r", b"\n", b"\0")
# RFC 5322 field-name: printable ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# Bodies are kept 7-bit (quoted-printable/base64 when needed): no relay has to downgrade them, which would
# also break a DKIM signature.
# set_content adds these; nothing else may appear beyond what build_mime writes.
_BODY_HEADERS = frozenset({"content-type", "content-transfer-encoding"})
_POLICY = email_policy.SMTP.clone(cte_type="7bit")
_POLICY_UTF8 = email_policy.SMTPUTF8.clone(cte_type="7bit")
_MIME_TYPE = re.compile(r"([a-z0-9][a-z0-9!#$&^_.+-]{0,126})/([a-z0-9][a-z0-9!#$&^_.+-]{0,126})")
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,200}")
ONE_CLICK = "List-Unsubscribe=One-Click"


class HeaderInjectionError(PermanentProviderError):
    """A header value that could break out of its line. Trying again cannot help."""


def check_header_value(field: str, value: str) -> None:
    """Refuse line breaks and NUL, raw or hidden in an RFC 2047 encoded word."""
    if not LINE_BREAKS.isdisjoint(value):
        raise HeaderInjectionError(f"{field} contains CR, LF or NUL")
    if "=?" not in value:
        return  # no encoded word can start here (RFC 2047): nothing hidden to decode
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError) as exc:
        raise HeaderInjectionError(f"{field} holds a malformed encoded word") from exc
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            continue  # no encoded word at all: already checked above
        if any(b in chunk for b in _RAW_BREAKS):
            raise HeaderInjectionError(f"{field} holds an encoded word that decodes to CR, LF or NUL")
        try:
            decoded = chunk.decode(charset or "ascii")
        except (LookupError, UnicodeDecodeError):
            continue  # the raw bytes were checked; an unknown charset is sent as literal text
        if not LINE_BREAKS.isdisjoint(decoded):
            raise HeaderInjectionError(f"{field} holds an encoded word that decodes to a line break")


def normalize_address(address: str, *, field: str) -> str:
    """Check one bare address and punycode its domain, so that only a non-ASCII local part needs SMTPUTF8."""
    check_header_value(f"{field} address", address)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise PermanentProviderError(f"{field} address {address!r} needs a local part and a domain")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise PermanentProviderError(f"{field} domain {domain!r} is not a valid IDN: {exc}") from exc
    return f"{local}@{domain}"


def needs_smtputf8(email: OutgoingEmail) -> bool:
    """True when some address (Bcc included: it is in the envelope) has a non-ASCII local part."""
    return any(not address.rpartition("@")[0].isascii() for address in _all_addresses(email))


def envelope_sender(email: OutgoingEmail) -> str:
    return normalize_address(email.sender.email, field="From")


def envelope_recipients(email: OutgoingEmail) -> list[str]:
    """To + Cc + Bcc, each once (compared case-insensitively), in the order given."""
    seen: set[str] = set()
    recipients: list[str] = []
    for field, addresses in (("To", email.to), ("Cc", email.cc), ("Bcc", email.bcc)):
        for address in addresses:
            normalized = normalize_address(address, field=field)
            if normalized.casefold() not in seen:
                seen.add(normalized.casefold())
                recipients.append(normalized)
    return recipients


def build_mime(email: OutgoingEmail, *, message_id_domain: str, date: datetime | None = None) -> EmailMessage:
    """Build the message every provider sends. Bcc never becomes a header."""
    if not email.to:
        raise PermanentProviderError("a message needs at least one To recipient")
    msg = EmailMessage(policy=_POLICY_UTF8 if needs_smtputf8(email) else _POLICY)
    written: list[str] = []

    def put(name: str, value: object) -> None:
        try:
            msg[name] = value
        except ValueError as exc:  # the email package's own refusal, should our checks ever miss one
            raise HeaderInjectionError(f"{name} was refused by the email package: {exc}") from exc
        written.append(name)

    put("From", _header_address(email.sender.email, email.sender.name, "From"))
    put("To", tuple(_header_address(a, None, "To") for a in email.to))
    if email.cc:
        put("Cc", tuple(_header_address(a, None, "Cc") for a in email.cc))
    if email.reply_to:
        put("Reply-To", _header_address(email.reply_to, None, "Reply-To"))
    check_header_value("Subject", email.subject)
    put("Subject", email.subject)
    put("Date", format_datetime(date or datetime.now(UTC)))
    put("Message-ID", f"<{email.message_id}@{_message_id_domain(message_id_domain)}>")
    put("X-IEP-Message-Id", str(email.message_id))
    put("MIME-Version", "1.0")
    for name, value in email.headers.items():
        _check_custom_header(name, value)
        put(name, value)
    if email.list_unsubscribe is not None:
        put("List-Unsubscribe", f"<{_unsubscribe_url(email.list_unsubscribe)}>")
        put("List-Unsubscribe-Post", ONE_CLICK)
    _set_body(msg, email)
    _add_attachments(msg, email)
    _verify_serialized_headers(msg, written)
    return msg


def check_outgoing(email: OutgoingEmail) -> None:
    """Every value of `email` that becomes a header, checked as it is after rendering, for every provider.

    The send step calls this before choosing a provider, and every HTTP provider again before it builds its
    request: a JSON mail API writes `subject` or a display name into the message itself, so a line break that
    gets there is a header of the caller's choosing (`Bcc:`) whatever the API's own checks.
    """
    check_header_value("Subject", email.subject)
    _header_address(email.sender.email, email.sender.name, "From")
    for field, addresses in (("To", email.to), ("Cc", email.cc), ("Bcc", email.bcc)):
        for address in addresses:
            normalize_address(address, field=field)
    if email.reply_to:
        normalize_address(email.reply_to, field="Reply-To")
    for name, value in email.headers.items():
        _check_custom_header(name, value)
    for attachment in email.attachments:
        checked_attachment(attachment)
    if email.list_unsubscribe is not None:
        _unsubscribe_url(email.list_unsubscribe)


def api_headers(email: OutgoingEmail) -> dict[str, str]:
    """The headers an HTTP provider is asked to add: the caller's, IEP's id, and RFC 8058 unsubscribe."""
    headers: dict[str, str] = {}
    for name, value in email.headers.items():
        _check_custom_header(name, value)
        headers[name] = value
    headers["X-IEP-Message-Id"] = str(email.message_id)
    if email.list_unsubscribe is not None:
        headers["List-Unsubscribe"] = f"<{_unsubscribe_url(email.list_unsubscribe)}>"
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return headers


def formatted_address(address: str, display_name: str | None, *, field: str) -> str:
    """`Name <a@b>` (RFC 2047-encoded when needed), the form JSON mail APIs take."""
    return str(_header_address(address, display_name, field))


def checked_attachment(attachment: Attachment) -> tuple[str, str]:
    """Check an attachment's name, type and content id before any provider puts them in a request."""
    check_header_value("attachment filename", attachment.filename)
    if not attachment.filename or "/" in attachment.filename or "\\" in attachment.filename:
        raise PermanentProviderError(f"attachment filename {attachment.filename!r} is not a plain file name")
    match = _MIME_TYPE.fullmatch(attachment.content_type)
    if not match:
        raise PermanentProviderError(f"attachment content type {attachment.content_type!r} is not type/subtype")
    if attachment.content_id is not None and not _CONTENT_ID.fullmatch(attachment.content_id):
        raise HeaderInjectionError(f"attachment content id {attachment.content_id!r} is not a valid id")
    return match.group(1), match.group(2)


def message_id_of(msg: EmailMessage) -> str:
    """The Message-ID without its angle brackets: what providers report as their message id."""
    return str(msg["Message-ID"]).strip().removeprefix("<").removesuffix(">")


def serialize(msg: EmailMessage) -> bytes:
    """The wire form, CRLF line ends whatever policy the message was built with."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _all_addresses(email: OutgoingEmail) -> Iterable[str]:
    yield email.sender.email
    yield from email.to
    yield from email.cc
    yield from email.bcc
    if email.reply_to:
        yield email.reply_to


# A tenant's From (and a product's usual recipients) recur message after message, and the strict parse is the
# costliest check of a send: its answers (never its refusals) are kept.
@functools.lru_cache(maxsize=4096)
def _header_address(address: str, display_name: str | None, field: str) -> HeaderAddress:
    normalized = normalize_address(address, field=field)
    if display_name is not None:
        check_header_value(f"{field} display name", display_name)
    local, _, domain = normalized.rpartition("@")
    # The strict addr-spec parser refuses "a@b, c@d" instead of quoting it. It knows only ASCII local parts,
    # so a UTF-8 one is checked with each non-ASCII character standing in as an ASCII letter (RFC 6531
    # extends atext exactly that way).
    probe = "".join(c if c.isascii() else "a" for c in local) + "@" + domain
    try:
        HeaderAddress(addr_spec=probe)
        return HeaderAddress(display_name=display_name or "", username=local, domain=domain)
    except (ValueError, HeaderParseError) as exc:
        raise PermanentProviderError(f"{field} address {address!r} is not a single valid address") from exc


def _message_id_domain(domain: str) -> str:
    check_header_value("Message-ID domain", domain)
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise PermanentProviderError(f"Message-ID domain {domain!r} is not a valid IDN") from exc
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise PermanentProviderError(f"Message-ID domain {domain!r} is not a host name")
    return domain


def _check_custom_header(name: str, value: str) -> None:
    check_header_value(f"custom header name {name!r}", name)
    if not _FIELD_NAME.fullmatch(name):
        raise HeaderInjectionError(f"custom header name {name!r} is not a valid field name")
    # The accept-time allowlist again: a message accepted before the policy, or built by other code, obeys it too.
    refusal = custom_header_refusal(name)
    if refusal is not None:
        raise HeaderInjectionError(refusal)
    check_header_value(f"custom header {name}", value)


def _set_body(msg: EmailMessage, email: OutgoingEmail) -> None:
    if email.text is None and email.html is None:
        raise PermanentProviderError("a message needs a text or an html body")
    if email.text is not None:
        msg.set_content(email.text, charset="utf-8")
        if email.html is not None:
            msg.add_alternative(email.html, subtype="html", charset="utf-8")
            for part in msg.iter_parts():
                del part["MIME-Version"]  # add_alternative copies it into the part; it belongs on top only
    elif email.html is not None:
        msg.set_content(email.html, subtype="html", charset="utf-8")


def _add_attachments(msg: EmailMessage, email: OutgoingEmail) -> None:
    """Inline images go into multipart/related beside the HTML; files make the whole a multipart/mixed."""
    inline = [a for a in email.attachments if a.inline]
    if inline:
        html = msg.get_body(preferencelist=("html",))
        if html is None:
            raise PermanentProviderError("inline (cid) attachments need an html body")
        for attachment in inline:
            maintype, subtype = checked_attachment(attachment)
            html.add_related(
                attachment.content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{attachment.content_id}>",
                filename=attachment.filename,
                disposition="inline",
            )
    for attachment in email.attachments:
        if attachment.inline:
            continue
        maintype, subtype = checked_attachment(attachment)
        msg.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    if email.attachments:
        for part in msg.walk():
            if part is not msg:
                del part["MIME-Version"]  # set_content copies it into each new part; it belongs on top only


def _unsubscribe_url(url: str) -> str:
    check_header_value("List-Unsubscribe URL", url)
    if not re.fullmatch(r"https://[!#-;=?-~]+", url):  # RFC 8058 needs https; no spaces, < or >
        raise PermanentProviderError("the List-Unsubscribe URL must be an https URL without spaces or <>")
    return url


def _verify_serialized_headers(msg: EmailMessage, written: list[str]) -> None:
    """Last defence: the serialised header block holds exactly the headers written, each on its own line."""
    head, boundary, _ = serialize(msg).partition(b"\r\n\r\n")
    if not boundary:
        raise HeaderInjectionError("the serialised message has no end of headers")
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if any(b in line for b in _RAW_BREAKS):
            raise HeaderInjectionError("the serialised headers hold a bare CR, LF or NUL")
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the header above
        name, colon, _ = line.partition(b":")
        if not colon:
            raise HeaderInjectionError(f"the serialised headers hold a stray line {line[:40]!r}")
        names.append(name.decode("ascii", "replace").lower())
    # What the message holds beyond what was written can only be the body's own Content-* headers.
    held = [key.lower() for key in msg]
    added = list(held)
    for written_name in written:
        if written_name.lower() in added:
            added.remove(written_name.lower())
    if not set(added) <= _BODY_HEADERS or "bcc" in names:
        raise HeaderInjectionError(f"the message holds unintended headers: {', '.join(sorted(added))}")
    if sorted(names) != sorted(held):
        unexpected = sorted(set(names) - set(held)) or ["(a missing or repeated one)"]
        raise HeaderInjectionError(f"the serialised message has unintended headers: {', '.join(unexpected)}")
