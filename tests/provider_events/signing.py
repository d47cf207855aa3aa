"""Each provider's signing scheme, done the provider's way with throwaway keys, so tests sign what they send."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from iep.provider_events.parsers.sns import string_to_sign

CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem"


def self_signed(key: rsa.RSAPrivateKey, now: datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class SnsSigner:
    """A throwaway RSA key and its certificate, served by an injected fetcher that records every fetch."""

    now: datetime
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    fetched: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pem = self_signed(self.key, self.now)

    async def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem

    def sign(
        self, envelope: dict[str, Any], *, version: str = "1", key: rsa.RSAPrivateKey | None = None
    ) -> dict[str, Any]:
        signed = {**envelope, "SignatureVersion": version, "SigningCertURL": envelope.get("SigningCertURL", CERT_URL)}
        # SNS SignatureVersion 1 is SHA1withRSA by definition; the tests sign both versions.
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
        signature = (key or self.key).sign(string_to_sign(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key and its public half as SendGrid shows it: base64 DER SubjectPublicKeyInfo."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


def sendgrid_headers(private: ec.EllipticCurvePrivateKey, body: bytes, timestamp: int) -> dict[str, str]:
    signature = private.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
        "Content-Type": "application/json",
    }


def mailgun_signature(signing_key: str, timestamp: int, token: str) -> dict[str, str]:
    digest = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": str(timestamp), "token": token, "signature": digest}


def svix_headers(secret: str, msg_id: str, timestamp: int, body: bytes, *, prefix: str = "svix") -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(timestamp),
        f"{prefix}-signature": "v1," + base64.b64encode(mac).decode(),
        "Content-Type": "application/json",
    }


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def epoch(now: datetime) -> int:
    return int(now.astimezone(UTC).timestamp())
