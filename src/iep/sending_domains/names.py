"""Domain names as IEP stores and compares them: lower-case A-labels (IDNA 2008, UTS 46), no trailing dot."""

from __future__ import annotations

import re

import idna

MAX_DOMAIN = 253
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class DomainError(ValueError):
    pass


def normalize_domain(raw: object) -> str:
    """`Bücher.Example.` → `xn--bcher-kva.example`; anything that is not a public host name is refused."""
    if not isinstance(raw, str) or not raw.strip():
        raise DomainError("must be a domain name like example.com")
    value = raw.strip()
    value = value[:-1] if value.endswith(".") else value
    if any(c.isspace() or ord(c) < 0x20 or c in "@/:" for c in value):
        raise DomainError("must be a bare domain name like example.com (no scheme, path, port or address)")
    try:
        ascii_name = idna.encode(value, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise DomainError(f"is not a valid domain name: {exc}") from None
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise DomainError("needs at least two labels, e.g. example.com")
    if len(ascii_name) > MAX_DOMAIN:
        raise DomainError(f"is longer than {MAX_DOMAIN} characters")
    if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise DomainError("must be a host name: labels of a-z 0-9 - (not an IP address)")
    return ascii_name


def ascii_domain(domain: str) -> str:
    """The stored form of an address's domain; cheap for the ASCII domains the accept path nearly always sees."""
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return domain.lower()
