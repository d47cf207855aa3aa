"""Webhook secrets and signatures: seed 003's `x-iep-signature` and the Standard Webhooks headers, one secret.

- `x-iep-signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed by the secret string exactly as shown
  to the tenant (`whsec_…`, all of it, as UTF-8 bytes).
- `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
  "{id}.{timestamp}.{body}">`, keyed by the base64-decoded part after `whsec_` (standardwebhooks.com).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def webhook_id(event_id: uuid.UUID) -> str:
    return f"evt_{event_id.hex}"


def secret_context(tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    """Binds a ciphertext to its row (iep.kit.crypto): copied to another endpoint or tenant, it does not open."""
    return f"tenant:{tenant_id}:webhook:{endpoint_id}"


def iep_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
        "x-iep-signature": iep_signature(secret, body),
    }
