"""Refuse text that could become a second header line once it is in a message header (SPEC.md §4)."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.header import decode_header

_FORBIDDEN = ("\r", "\n", "\x00")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


class HeaderTextError(ValueError):
    pass


def check_header_text(value: str, *, what: str = "header value") -> str:
    """Return `value` if no CR, LF or NUL is in it, raw or hidden in an RFC 2047 encoded word."""
    if any(ch in value for ch in _FORBIDDEN):
        raise HeaderTextError(f"{what} must not contain CR, LF or NUL")
    for word in _ENCODED_WORD.findall(value):
        try:
            parts = decode_header(word)
        except (HeaderParseError, ValueError, LookupError):
            raise HeaderTextError(f"{what} contains a malformed encoded word") from None
        for chunk, charset in parts:
            text = chunk.decode(charset or "ascii", "replace") if isinstance(chunk, bytes) else chunk
            if any(ch in text for ch in _FORBIDDEN):
                raise HeaderTextError(f"{what} must not hide CR, LF or NUL in an encoded word")
    return value
