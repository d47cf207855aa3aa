"""The accept's operator-set bounds, apart from the accept itself: every role's container holds them, and only the
API needs the request schemas and address validation that `messages.service` loads (start-up time, idle RSS)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AcceptLimits:
    max_recipients: int
    max_attempts: int
    # SENDER_DOMAINS_REQUIRE_VERIFIED: only verified sender domains send (else any listed one).
    require_verified_senders: bool = True
