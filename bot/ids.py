"""ULIDs: 26-character, time-sortable ids (https://github.com/ulid/spec), no extra package.

The first 10 characters encode the milliseconds since the epoch, the last 16 are random. Within
one millisecond the generator increments the random part, so ids made by one process sort in
the order they were made even when the clock does not move (or steps back).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_MAX_RANDOM = (1 << _RANDOM_BITS) - 1
_MAX_MS = (1 << 48) - 1


def encode_ulid(ms: int, randomness: int) -> str:
    """The ULID text for a 48-bit millisecond time and 80 random bits."""
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"ULID time must fit in 48 bits, got {ms}")
    if not 0 <= randomness <= _MAX_RANDOM:
        raise ValueError(f"ULID randomness must fit in 80 bits, got {randomness}")
    value = (ms << _RANDOM_BITS) | randomness
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class UlidGenerator:
    """Thread-safe, monotonic ULIDs; clock and randomness are injectable for tests."""

    def __init__(
        self,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        random_bits: Callable[[], int] = lambda: int.from_bytes(os.urandom(10), "big"),
    ) -> None:
        self._clock_ms = clock_ms
        self._random_bits = random_bits
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def __call__(self) -> str:
        with self._lock:
            ms = self._clock_ms()
            if ms > self._last_ms:
                self._last_ms, self._last_random = ms, self._random_bits() & _MAX_RANDOM
            elif self._last_random < _MAX_RANDOM:
                # Same millisecond (or the clock stepped back): keep the order by counting up.
                self._last_random += 1
            else:
                # 2**80 ids in one millisecond: borrow the next millisecond rather than fail.
                self._last_ms, self._last_random = self._last_ms + 1, 0
            return encode_ulid(self._last_ms, self._last_random)


_process_generator = UlidGenerator()


def new_ulid() -> str:
    """A fresh ULID from the process-wide generator."""
    return _process_generator()
