"""Where fakekms's randomness comes from: key ids, key material, data keys, IVs and nonces.

Everything draws from one source, so deterministic mode only swaps the generator: with a seed,
the same calls on a fresh server produce the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import uuid


class RandomSource:
    """Operating-system randomness: the default, as unpredictable as real KMS."""

    deterministic = False

    def token_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def restart(self) -> None:
        """Nothing to restart: operating-system randomness has no sequence."""

    def key_id(self, multi_region: bool = False) -> str:
        if multi_region:
            return "mrk-" + self.token_bytes(16).hex()
        return str(uuid.UUID(bytes=self.token_bytes(16), version=4))


class SeededRandomSource(RandomSource):
    """A reproducible stream: HMAC-SHA256 of the seed over a block counter.

    Not for secrets anyone relies on; its point is that a test can predict every id and byte.
    Calls are serialized so that concurrent requests each get whole, distinct draws.
    """

    deterministic = True

    def __init__(self, seed: str | bytes) -> None:
        key = seed.encode() if isinstance(seed, str) else seed
        self._key = hashlib.sha256(b"fakekms seed\x00" + key).digest()
        self._counter = 0
        self._lock = threading.Lock()

    def token_bytes(self, n: int) -> bytes:
        with self._lock:
            out = bytearray()
            while len(out) < n:
                self._counter += 1
                out += hmac.digest(self._key, self._counter.to_bytes(16, "big"), "sha256")
            return bytes(out[:n])

    def restart(self) -> None:
        """Back to the first draw, as a fresh server with the same seed would be."""
        with self._lock:
            self._counter = 0


def random_source(seed: str | None = None) -> RandomSource:
    return RandomSource() if seed is None else SeededRandomSource(seed)
