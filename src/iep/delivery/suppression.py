"""Suppression applied at send (SPEC F3): suppressed addresses leave the envelope and the To/Cc headers.

The accept path only warns (`suppressedRecipients`); an address suppressed between accept and send, or one the
caller was warned about, is dropped here, just before the provider is called.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from iep.providers.base import OutgoingEmail, PermanentProviderError


class AllRecipientsSuppressed(Exception):
    """Every recipient is suppressed: the message ends `suppressed` and no provider is called."""

    def __init__(self, dropped: list[str]) -> None:
        super().__init__(f"every recipient is suppressed: {', '.join(dropped)}")
        self.dropped = dropped


def without_suppressed(email: OutgoingEmail, suppressed: Collection[str]) -> OutgoingEmail:
    """The email without the suppressed addresses (`suppressed` is lower-cased); raises when none is left."""
    if not suppressed:
        return email

    def keep(addresses: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(a for a in addresses if a.lower() not in suppressed)

    to, cc, bcc = keep(email.to), keep(email.cc), keep(email.bcc)
    if not (to or cc or bcc):
        raise AllRecipientsSuppressed(list(email.envelope_recipients))
    if not to and cc:
        # A message needs a To header; the remaining Cc recipients already see each other, so they move up.
        to, cc = cc, ()
    elif not to:
        # Moving Bcc recipients into To would show them to each other: refuse rather than expose them.
        raise PermanentProviderError(
            "every To and Cc recipient is suppressed; the Bcc recipients left would have to become visible",
            provider="suppression",
        )
    return dataclasses.replace(email, to=to, cc=cc, bcc=bcc)


def dropped(row: dict[str, Any], email: OutgoingEmail) -> list[str]:
    """The message's recipients (as the caller wrote them) that this email no longer carries."""
    kept = {a.lower() for a in email.envelope_recipients}
    everyone = (*row["to"], *(row["cc"] or ()), *(row["bcc"] or ()))
    return [a for a in dict.fromkeys(everyone) if a.lower() not in kept]
