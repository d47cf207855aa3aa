"""Secrets at rest (S6): AES-256-GCM with a key id in every ciphertext, so keys can rotate.

IEP_ENCRYPTION_KEY holds one or more keys, newest first: `id1:base64key1,id2:base64key2`. The first encrypts;
any listed one decrypts what it made. A ciphertext is `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`, and
the key id plus a caller-chosen context (e.g. `tenant:<id>:provider:<name>`) are bound in as associated data,
so a value copied to another row or tenant does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_NONCE_BYTES = 12
VERSION = "v1"


class CryptoError(ValueError):
    """A key ring that cannot be used, or a ciphertext that is not ours or was altered."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]  # id → 32-byte key, newest first (dicts keep insertion order)

    @classmethod
    def parse(cls, value: str) -> KeyRing:
        """`id:base64key[,id:base64key...]`; errors never echo key material."""
        keys: dict[str, bytes] = {}
        for position, item in enumerate(filter(None, (p.strip() for p in value.split(","))), start=1):
            key_id, colon, encoded = item.partition(":")
            if not colon or not _KEY_ID.fullmatch(key_id):
                raise CryptoError(f"key {position} must look like <id>:<base64 of 32 bytes>, id of A-Z a-z 0-9 _ -")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise CryptoError(f"key {key_id!r} is not valid base64") from None
            if len(raw) != 32:
                raise CryptoError(f"key {key_id!r} must be 32 bytes (AES-256), it is {len(raw)}")
            if key_id in keys:
                raise CryptoError(f"key id {key_id!r} appears twice")
            keys[key_id] = raw
        if not keys:
            raise CryptoError("no key given")
        return cls(keys)

    @staticmethod
    def generate_key() -> str:
        return base64.b64encode(os.urandom(32)).decode("ascii")  # an AES-256 key is 32 random bytes

    @property
    def current_id(self) -> str:
        return next(iter(self.keys))

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        # The cipher is imported by the first use: the library's native part is ~8 MB resident, which a role that
        # only parses IEP_ENCRYPTION_KEY at start (the API, until a tenant adds a domain or a webhook) need not hold.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key_id = self.current_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[key_id]).encrypt(nonce, plaintext, _aad(key_id, context))
        return f"{VERSION}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, *, context: str) -> bytes:
        version, key_id, encoded = _split(token)
        if version != VERSION:
            raise CryptoError(f"unknown ciphertext version {version!r}")
        key = self.keys.get(key_id)
        if key is None:
            raise CryptoError(f"the key {key_id!r} that encrypted this is not in IEP_ENCRYPTION_KEY")
        from cryptography.exceptions import InvalidTag  # imported here as in `encrypt`
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            blob = base64.urlsafe_b64decode(encoded)
            return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(key_id, context))
        except (binascii.Error, ValueError, InvalidTag):
            raise CryptoError("the ciphertext was altered, or belongs to another record") from None

    def needs_rotation(self, token: str) -> bool:
        """True when `token` was made by an older key: re-encrypt it with `rotate`."""
        return _split(token)[1] != self.current_id

    def rotate(self, token: str, *, context: str) -> str:
        return self.encrypt(self.decrypt(token, context=context), context=context)


def _aad(key_id: str, context: str) -> bytes:
    return f"{VERSION}|{key_id}|{context}".encode()


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(".", 2)
    if len(parts) != 3:
        raise CryptoError("not an IEP ciphertext")
    return parts[0], parts[1], parts[2]
