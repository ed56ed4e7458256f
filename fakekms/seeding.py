"""Where fakekms's randomness comes from: key ids, and through the crypto backend key material.

One source for everything, so that a later deterministic mode only has to swap the generator.
"""

from __future__ import annotations

import os
import uuid


class RandomSource:
    """Operating-system randomness (the default, and what real KMS uses in spirit)."""

    def token_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def key_id(self, multi_region: bool = False) -> str:
        if multi_region:
            return "mrk-" + self.token_bytes(16).hex()
        return str(uuid.UUID(bytes=self.token_bytes(16), version=4))
