"""AES-GCM secrets at rest: round trip, rotation across key sets, and every way a ciphertext can be misused."""

from __future__ import annotations

import pytest

from iep.kit.crypto import CryptoError, KeyRing

OLD = KeyRing.generate_key()
NEW = KeyRing.generate_key()


def test_round_trip_and_nonces_differ() -> None:
    ring = KeyRing.parse(f"k1:{OLD}")
    a = ring.encrypt(b"SG.secret", context="tenant:1:provider:sendgrid")
    b = ring.encrypt(b"SG.secret", context="tenant:1:provider:sendgrid")
    assert a != b
    assert b"SG.secret" not in a.encode()
    assert ring.decrypt(a, context="tenant:1:provider:sendgrid") == b"SG.secret"


def test_rotation_newest_encrypts_any_decrypts() -> None:
    before = KeyRing.parse(f"k1:{OLD}")
    token = before.encrypt(b"secret", context="c")
    after = KeyRing.parse(f"k2:{NEW},k1:{OLD}")
    assert after.decrypt(token, context="c") == b"secret"
    assert after.needs_rotation(token)
    rotated = after.rotate(token, context="c")
    assert rotated.startswith("v1.k2.")
    assert not after.needs_rotation(rotated)
    # Once the old key is retired, only the rotated value still opens.
    retired = KeyRing.parse(f"k2:{NEW}")
    assert retired.decrypt(rotated, context="c") == b"secret"
    with pytest.raises(CryptoError, match="'k1'"):
        retired.decrypt(token, context="c")


def test_a_value_moved_to_another_record_or_altered_does_not_open() -> None:
    ring = KeyRing.parse(f"k1:{OLD}")
    token = ring.encrypt(b"secret", context="tenant:1")
    with pytest.raises(CryptoError):
        ring.decrypt(token, context="tenant:2")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(CryptoError):
        ring.decrypt(flipped, context="tenant:1")
    with pytest.raises(CryptoError):
        ring.decrypt(token.replace("v1.k1.", "v1.k1x."), context="tenant:1")
    with pytest.raises(CryptoError):
        ring.decrypt("not-a-token", context="tenant:1")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "no key"),
        ("k1", "must look like"),
        (f"bad id:{OLD}", "must look like"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + "A" * 24, "must be 32 bytes"),
        (f"k1:{OLD},k1:{NEW}", "appears twice"),
    ],
    ids=["empty", "no-colon", "bad-id", "not-base64", "short-key", "duplicate-id"],
)
def test_bad_key_rings_are_refused_without_echoing_keys(value: str, says: str) -> None:
    with pytest.raises(CryptoError, match=says) as raised:
        KeyRing.parse(value)
    assert OLD not in str(raised.value)
