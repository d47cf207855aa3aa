"""Amazon SNS message verification: the signing certificate comes only from an SNS host, over https.

The string to sign is `Name\\nvalue\\n` for the documented fields in byte order; SignatureVersion 1 is
SHA1withRSA, 2 is SHA256withRSA (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from iep.provider_events.parsers.base import SignatureInvalid

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
_MAX_CERT_BYTES = 64 * 1024
_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}

CertFetcher = Callable[[str], Awaitable[bytes]]


def is_sns_url(url: str) -> bool:
    """An https URL on an Amazon SNS regional host, with no credentials and no odd port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and port in (None, 443)
        and _SNS_HOST.fullmatch(parts.hostname or "") is not None
    )


def is_signing_cert_url(url: str) -> bool:
    return is_sns_url(url) and urlsplit(url).path.endswith(".pem")


async def fetch_over_https(url: str) -> bytes:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False) as client:
        response = await client.get(url)
    if response.status_code != 200 or len(response.content) > _MAX_CERT_BYTES:
        raise SignatureInvalid(f"the signing certificate could not be fetched (HTTP {response.status_code})")
    return response.content


class CertCache:
    """Signing keys by certificate URL; the URL is checked before anything is fetched."""

    def __init__(self, fetcher: CertFetcher | None = None, *, max_entries: int = 64) -> None:
        self._fetch = fetcher or fetch_over_https
        self._keys: dict[str, tuple[RSAPublicKey, datetime]] = {}
        self._max = max_entries

    async def key(self, url: str, now: datetime) -> RSAPublicKey:
        if not is_signing_cert_url(url):
            raise SignatureInvalid("SigningCertURL is not an https URL on an Amazon SNS host")
        cached = self._keys.get(url)
        if cached is None:
            from cryptography import x509  # loaded by the first certificate, as in `verify`
            from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

            try:
                cert = x509.load_pem_x509_certificate(await self._fetch(url))
            except (ValueError, httpx.HTTPError) as exc:
                raise SignatureInvalid(f"the signing certificate is unusable: {type(exc).__name__}") from None
            public = cert.public_key()
            if not isinstance(public, RSAPublicKey):
                raise SignatureInvalid("the signing certificate does not hold an RSA key")
            if len(self._keys) >= self._max:
                self._keys.pop(next(iter(self._keys)))
            cached = self._keys[url] = (public, cert.not_valid_after_utc)
        key, not_after = cached
        if now > not_after:
            raise SignatureInvalid("the signing certificate has expired")
        return key


def string_to_sign(envelope: Mapping[str, Any]) -> bytes:
    fields = _FIELDS.get(str(envelope.get("Type")))
    if fields is None:
        raise SignatureInvalid(f"unknown SNS message type {envelope.get('Type')!r}")
    out = []
    for name in fields:
        value = envelope.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise SignatureInvalid(f"the SNS message has no {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


async def verify(envelope: Mapping[str, Any], certs: CertCache, topic_arns: frozenset[str], now: datetime) -> None:
    """Refuse unless the topic is ours and the signature verifies with an SNS certificate."""
    if envelope.get("TopicArn") not in topic_arns:
        raise SignatureInvalid("the SNS topic is not one of SES_WEBHOOK_TOPIC_ARNS")
    # cryptography's native part (~8 MB resident) is loaded by the first SNS message, not by the API's start.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    algorithm = {"1": hashes.SHA1, "2": hashes.SHA256}.get(str(envelope.get("SignatureVersion")))
    if algorithm is None:
        raise SignatureInvalid("unknown SNS SignatureVersion")
    try:
        signature = base64.b64decode(str(envelope.get("Signature") or ""), validate=True)
    except binascii.Error:
        raise SignatureInvalid("the SNS signature is not base64") from None
    data = string_to_sign(envelope)
    key = await certs.key(str(envelope.get("SigningCertURL") or ""), now)
    try:
        key.verify(signature, data, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SignatureInvalid("the SNS signature does not verify") from None


class SubscriptionConfirmer:
    """GETs a verified SubscribeURL. Only SNS hosts in production; tests pass their own `allow` and client."""

    def __init__(self, client: httpx.AsyncClient | None = None, *, allow: Callable[[str], bool] = is_sns_url) -> None:
        self._client = client
        self._allow = allow

    async def confirm(self, url: str) -> int:
        if not self._allow(url):
            raise SignatureInvalid("SubscribeURL is not an https URL on an Amazon SNS host")
        if self._client is not None:
            response = await self._client.get(url)
        else:
            async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False) as client:
                response = await client.get(url)
        return response.status_code
