"""The one clock of fakekms.

Nothing else reads the wall clock: deletion windows, timestamps and (later) rotations ask this
clock, so a test can move time forward instead of waiting for it.
"""

from __future__ import annotations

import datetime
import threading
import time

# 9992-01-01T00:00:00Z: the latest start from which every date KMS derives (a rotation 2,560
# days on, a deletion 30 days on, an expiry 365 days on) still falls in 9999, the last year a
# timestamp can show.
LATEST = 253149840000.0


def check_time(epoch: float) -> float:
    """The clock stays between 1970 and 9992, where every response can render every date."""
    if not 0.0 <= epoch <= LATEST:  # also false for NaN
        raise ValueError("the clock must stay between 1970-01-01 and 9992-01-01")
    return epoch


def epoch_seconds(value, name: str = "set") -> float:
    """Epoch seconds from a number or an ISO 8601 string (a naive time is taken as UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return parsed.timestamp()
    raise ValueError(f"{name} takes epoch seconds or an ISO 8601 time such as 2030-01-01T00:00:00Z, "
                     f"not {value!r}")


class Clock:
    """Wall-clock time plus an offset that tests may set or advance.

    ``start`` starts the clock at that time (epoch seconds) instead of now, ``frozen`` stops it
    there; a reset goes back to that start, as a fresh server started the same way would be.
    """

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._offset = 0.0
        self._frozen: float | None = None
        self._lock = threading.Lock()
        self._start = start
        self._start_frozen = frozen
        self.reset()

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
        """Back to how the clock started: wall time, or the start it was given."""
        start, frozen = self._start, self._start_frozen
        if start is None and frozen:
            start = self._start = time.time()  # frozen at start-up time, for good
        if start is not None:
            self.set(start, frozen=frozen)
            return
        with self._lock:
            self._offset = 0.0
            self._frozen = None
