"""What may go into a message header: no line breaks in any value (SPEC.md §4), and custom header names from an
allowlist (docs/security.md). Used at accept (a 422 naming the header) and again by the MIME builder at send.

Custom headers are an allowlist, not a blocklist: a provider reads its own control headers out of the message
(`X-SES-CONFIGURATION-SET` picks an account's configuration set, `X-SMTPAPI` rewrites a SendGrid send,
`X-Mailgun-*` and `X-PM-*` change tracking and routing) and receivers trust trace and authentication headers
(`Received`, `Authentication-Results`, `ARC-*`, `DKIM-Signature`). New vendors add new names every year; only a
list of what is known to be harmless stays safe when they do.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.header import decode_header

# CR, LF, NUL, and every other character str.splitlines() breaks on: the email package treats them as line
# breaks too, and an HTTP provider may turn one into a new header line of its own.
LINE_BREAKS = frozenset("\r\n\0\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,75}")

# Standard headers a sender may set that no provider or receiver reads as an instruction.
ALLOWED_HEADERS = frozenset(
    h.lower()
    for h in (
        "List-Id",
        "List-Archive",
        "List-Help",
        "List-Owner",
        "List-Post",
        "List-Subscribe",
        "References",
        "In-Reply-To",
        "Precedence",
        "Auto-Submitted",
        "Keywords",
        "Comments",
        "Organization",
        "Importance",
        "Priority",
        "Sensitivity",
        "Content-Language",
        "Thread-Topic",
        "Thread-Index",
        "Feedback-ID",
    )
)
# `X-` headers are the sender's own, except these prefixes: provider control, receiver trace and filtering
# verdicts, and IEP's own.
FORBIDDEN_X_PREFIXES = tuple(
    p.lower()
    for p in (
        "X-IEP-",
        "X-SES-",
        "X-Amz-",
        "X-Mailgun-",
        "X-PM-",
        "X-Postmark-",
        "X-SMTPAPI",
        "X-SG-",
        "X-SendGrid-",
        "X-Resend-",
        "X-MC-",
        "X-Mandrill-",
        "X-MSYS-",
        "X-SparkPost-",
        "X-Mailjet-",
        "X-MJ-",
        "X-Google-",
        "X-Gm-",
        "X-MS-",
        "X-Microsoft-",
        "X-Forefront-",
        "X-Received",
        "X-Original-",
        "X-Originating-",
        "X-Forwarded-",
        "X-Envelope-",
        "X-Delivered-",
        "X-Authenticated-",
        "X-Auth-",
        "X-Spam",
        "X-Virus",
        "X-Barracuda-",
        "X-Proofpoint-",
        "X-Mimecast-",
        "X-Report-Abuse",
        "X-Complaints-",
        "X-Feedback-",
        "X-Sender",
        "X-Return-",
        "X-Apple-",
        "X-Yahoo-",
        "X-YMail-",
    )
)


class HeaderTextError(ValueError):
    pass


def check_header_text(value: str, *, what: str = "header value") -> str:
    """Return `value` if no line break or NUL is in it, raw or hidden in an RFC 2047 encoded word."""
    if not LINE_BREAKS.isdisjoint(value):
        raise HeaderTextError(f"{what} must not contain CR, LF, NUL or another line separator")
    for word in _ENCODED_WORD.findall(value):
        try:
            parts = decode_header(word)
        except (HeaderParseError, ValueError, LookupError):
            raise HeaderTextError(f"{what} contains a malformed encoded word") from None
        for chunk, charset in parts:
            text = chunk.decode(charset or "ascii", "replace") if isinstance(chunk, bytes) else chunk
            if not LINE_BREAKS.isdisjoint(text):
                raise HeaderTextError(f"{what} must not hide a line break or NUL in an encoded word")
    return value


def custom_header_refusal(name: str) -> str | None:
    """Why a caller may not set header `name`, or None when the allowlist admits it."""
    if not _HEADER_NAME.fullmatch(name):
        return f"header name {name[:80]!r} is not a valid field name (A-Z a-z 0-9 and -, at most 76)"
    lowered = name.lower()
    if lowered in ALLOWED_HEADERS:
        return None
    if lowered.startswith("x-") and len(lowered) > 2:
        if lowered.startswith(FORBIDDEN_X_PREFIXES):
            return f"header {name!r} is a provider-control or trace header and cannot be set"
        return None
    return f"header {name!r} is not allowed; use an X- header or one of: {', '.join(sorted(ALLOWED_HEADERS))}"
