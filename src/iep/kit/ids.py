"""Identifiers: UUIDv7 so primary keys sort by creation time and index inserts stay local."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = [0, 0]  # the last (milliseconds, 12-bit counter) handed out by this process


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, version, a 12-bit counter, 62 random bits.

    Monotonic within a process (RFC 9562 §6.2, method 1): ids made in the same millisecond count up instead of
    being random, so rows written in one transaction with one timestamp (an `ambiguous` event, then `processing`)
    still sort in the order they were written.
    """
    ms = time.time_ns() // 1_000_000
    with _lock:
        last_ms, last_counter = _last
        if ms <= last_ms:
            ms, counter = last_ms, last_counter + 1
            if counter > 0xFFF:
                ms, counter = last_ms + 1, 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # start low: room to count up in this ms
        _last[0], _last[1] = ms, counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
