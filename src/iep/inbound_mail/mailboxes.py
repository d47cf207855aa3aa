"""Which recipients the SMTP server takes, decided at RCPT so a stranger's mail is refused before DATA.

Today there is one kind, the VERP bounce mailbox. Authenticated submission (D-9) is a second kind: it joins
the `Mailbox` union, `Mailboxes.for_recipient` learns to return it for an authenticated session, and
`server.InboundHandler` hands it to its own consumer; the bounce path stays as it is.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

# The VERP address the SMTP provider puts in MAIL FROM: bounces+<messageId>@<bounce domain>.
_VERP = re.compile(r"^bounces\+(?P<id>[0-9a-fA-F-]{32,36})@(?P<domain>[^@\s]+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BounceMailbox:
    """Reports about one sent message: DSNs and ARF reports come back to its return path."""

    message_id: uuid.UUID


# Every kind of recipient the server accepts; a submission recipient is the next member.
Mailbox = BounceMailbox


class Mailboxes:
    def __init__(self, *, bounce_domain: str | None) -> None:
        # Without a bounce domain nothing was sent with a VERP return path, so no bounce can be ours.
        self._bounce_domain = bounce_domain.strip().rstrip(".").lower() if bounce_domain else None

    @property
    def bounce_domain(self) -> str | None:
        return self._bounce_domain

    def for_recipient(self, address: str) -> Mailbox | None:
        """The mailbox an RCPT TO address names, or None (the server answers 550 5.1.1)."""
        match = _VERP.match(address.strip())
        if match is None or self._bounce_domain is None:
            return None
        if match.group("domain").rstrip(".").lower() != self._bounce_domain:
            return None
        text = match.group("id")
        try:
            message_id = uuid.UUID(text)
        except ValueError:
            return None
        # Only the canonical 8-4-4-4-12 form (any case) is one we sent; uuid.UUID also takes 32 bare digits.
        if str(message_id) != text.lower():
            return None
        return BounceMailbox(message_id)
