"""Per-integration token buckets (in-process: each ingest worker process keeps its own)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBuckets:
    """A token bucket per key: `rate` tokens a second, at most `burst` saved up."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: int, rate: float, burst: float) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        rate, burst = max(rate, 1e-6), max(burst, 1.0)
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
