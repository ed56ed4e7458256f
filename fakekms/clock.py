"""The one clock of fakekms.

Nothing else reads the wall clock: deletion windows, timestamps and (later) rotations ask this
clock, so a test can move time forward instead of waiting for it.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time plus an offset that tests may set or advance."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch."""
        frozen = self._frozen
        return frozen if frozen is not None else time.time() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def advance(self, seconds: float) -> float:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds
        return self.now()

    def set(self, epoch_seconds: float, *, frozen: bool = False) -> float:
        with self._lock:
            if frozen:
                self._frozen = float(epoch_seconds)
            else:
                self._frozen = None
                self._offset = float(epoch_seconds) - time.time()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._frozen = None
