"""The problem types of the sender domains API (D10): one stable `type` per thing the caller can fix."""

from __future__ import annotations

from iep.kit.problems import Problem


class DomainExists(Problem):
    status, type_, title = 409, "domain-exists", "This tenant already has this sender domain"


class EncryptionUnavailable(Problem):
    status, type_, title = (
        503,
        "encryption-unavailable",
        "DKIM private keys cannot be stored: IEP_ENCRYPTION_KEY is not set",
    )
