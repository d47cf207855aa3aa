"""Address rules of the directory: one spelling per address, and the numeric suffix a taken address gets."""

from __future__ import annotations

import re
from collections.abc import Iterator

from iep.messages.addresses import normalize_address


def normalize(address: str) -> str:
    """Validated as a send address is, then lower-cased: `John.Doe@X` and `john.doe@x` are one address."""
    return normalize_address(address).lower()


def split(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def suffixed(address: str, n: int) -> str:
    """`john.doe@x` with suffix 0 is itself, with 2 `john.doe2@x` (seed 004 MS-1)."""
    if n == 0:
        return address
    local, domain = split(address)
    return f"{local}{n}@{domain}"


def like_pattern(address: str) -> str:
    """A LIKE pattern matching the address and each of its suffixed forms (and a few others, filtered after)."""
    local, domain = split(address)

    def escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    return f"{escape(local)}%@{escape(domain)}"


def suffixes_taken(address: str, found: list[str]) -> set[int]:
    """Of the addresses a LIKE found, the suffixes of `address` they are (0 for the address itself)."""
    local, domain = split(address)
    shape = re.compile(rf"{re.escape(local)}([1-9][0-9]*)?@{re.escape(domain)}")
    taken = set()
    for other in found:
        m = shape.fullmatch(other)
        if m:
            taken.add(int(m.group(1) or 0))
    return taken


def candidates(address: str, taken: set[int]) -> Iterator[str]:
    """The address, then john.doe1, john.doe2, … skipping suffixes known to be taken."""
    n = 0
    while True:
        if n not in taken:
            yield suffixed(address, n)
        n += 1
