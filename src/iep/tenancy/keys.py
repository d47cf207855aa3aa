"""API key material: `iep_<prefix>_<secret>`, shown once, stored as an Argon2id hash and the prefix (S2)."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_HASHER = PasswordHasher()  # argon2id with the library's current defaults
SCOPES = frozenset({"send", "read", "admin"})


@dataclass(frozen=True, slots=True)
class PresentedKey:
    prefix: str
    full: str

    @property
    def fingerprint(self) -> str:
        """What the verification cache is keyed by: never the key itself."""
        return hashlib.sha256(self.full.encode()).hexdigest()


def generate() -> tuple[str, str]:
    """Return (prefix, full key)."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    return prefix, f"iep_{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(full: str) -> str:
    return _HASHER.hash(full)


def verify(key_hash: str, full: str) -> bool:
    try:
        return _HASHER.verify(key_hash, full)
    except (VerificationError, InvalidHashError):
        return False


def parse(key: str | None, secret: str | None = None) -> PresentedKey | None:
    """Accept the full key, or seeds 000-002's pair `X-Api-Key: iep_<prefix>` + `X-Api-Secret: <secret>`."""
    if not key:
        return None
    key = key.strip()
    if secret is not None:
        prefix = key.removeprefix("iep_").rstrip("_")
        key = f"iep_{prefix}_{secret.strip()}"
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "iep" or len(parts[1]) != 8 or not parts[2] or len(key) > 200:
        return None
    return PresentedKey(prefix=parts[1], full=key)
