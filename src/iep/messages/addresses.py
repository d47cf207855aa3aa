"""Strict address parsing for every address field (A2).

`email.utils.parseaddr` turns `a@verified.example <b@evil.example>` into the first address (SPEC.md §4), so a
sender check on its result can be fooled. Here a value is either a bare address or exactly one
`Display Name <address>`; anything else is refused, and the address itself goes through email-validator
(RFC 5322 / RFC 6531, IDN domains), with no DNS lookups at accept time.
"""

from __future__ import annotations

import functools
import re

from email_validator import EmailNotValidError, validate_email

from iep.messages.header_safety import check_header_text

MAX_ADDRESS = 254
MAX_DISPLAY_NAME = 255
_NAMED = re.compile(r'^\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<plain>[^"<>]*?))\s*<(?P<addr>[^<>]*)>\s*$')


class AddressError(ValueError):
    pass


def normalize_address(value: str) -> str:
    """Validate one bare address; return it with the domain in its normalised (IDNA 2008) form."""
    if not isinstance(value, str) or not value:
        raise AddressError("must be an email address")
    check_header_text(value, what="address")
    if len(value) > MAX_ADDRESS:
        raise AddressError(f"an address is at most {MAX_ADDRESS} characters")
    if value != value.strip() or any(c in value for c in '<>,;"() '):
        raise AddressError("must be a single bare address like user@example.com")
    return _validated(value)


@functools.lru_cache(maxsize=4096)
def _validated(value: str) -> str:
    # A product sends from the same few addresses all day: each is validated once, not on every request.
    # (An invalid address raises, and lru_cache keeps no exception: it is checked again each time.)
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return f"{result.local_part}@{result.domain}"


def parse_mailbox(value: str) -> tuple[str, str | None]:
    """Parse `user@x` or `Name <user@x>` into (address, display name); exactly one address or an error."""
    if not isinstance(value, str) or not value.strip():
        raise AddressError("must be an email address")
    check_header_text(value, what="address")
    if "<" not in value and ">" not in value:
        return normalize_address(value.strip()), None
    match = _NAMED.match(value)
    if match is None:
        raise AddressError("must be `user@example.com` or `Name <user@example.com>` with exactly one address")
    name = match.group("quoted")
    if name is not None:
        name = re.sub(r"\\(.)", r"\1", name)
    else:
        name = match.group("plain") or ""
        if "@" in name or "," in name or ";" in name:
            raise AddressError("a display name with @ , or ; must be quoted; exactly one address is allowed")
    return normalize_address(match.group("addr").strip()), check_display_name(name.strip()) or None


def check_display_name(name: str) -> str:
    check_header_text(name, what="display name")
    if len(name) > MAX_DISPLAY_NAME:
        raise AddressError(f"a display name is at most {MAX_DISPLAY_NAME} characters")
    return name


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[1].lower()
