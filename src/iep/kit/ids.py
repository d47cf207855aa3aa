"""Identifiers: UUIDv7 so primary keys sort by creation time and index inserts stay local."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, version, a 12-bit counter, 62 random bits.

    Within one millisecond the counter (RFC 9562 §6.2 method 1) keeps ids made by this process in creation
    order, so rows written in the same millisecond (an event and the next) still sort as they happened.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _counter = ms, int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        else:
            _counter += 1
            if _counter > 0xFFF:  # 3,000+ ids in one millisecond: borrow the next millisecond
                _last_ms, _counter = _last_ms + 1, 0
        ms, rand_a = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
