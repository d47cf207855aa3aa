"""Identifiers: UUIDv7 so primary keys sort by creation time and index inserts stay local."""

from __future__ import annotations

import os
import threading
import time
import uuid

_RAND_B = (1 << 62) - 1
_lock = threading.Lock()
_last = 0


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, version, 12 + 62 random bits; increasing within a process.

    Two ids made in the same millisecond would otherwise order at random, and rows that share a timestamp
    (a message's events written by one statement) are read back in id order. Within one millisecond the next
    id is the previous one plus one in its random bits (RFC 9562 §6.2, a monotonic random increment).
    """
    global _last
    ms = time.time_ns() // 1_000_000
    rand_a = int.from_bytes(os.urandom(2), "big") & 0xFFF
    rand_b = int.from_bytes(os.urandom(8), "big") & _RAND_B
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    with _lock:
        if value <= _last and (_last & _RAND_B) != _RAND_B:  # the random bits never carry into the variant
            value = _last + 1
        _last = value
    return uuid.UUID(int=value)
