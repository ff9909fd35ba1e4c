"""Per-key request windows: a fixed number of requests per minute, with IETF RateLimit headers.

In-process, like the ingest token buckets: each ingest worker process counts its own requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        out = {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.reset_s)
        return out


class Windows:
    """Counts requests per key in fixed windows of `window_s` seconds."""

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._counts: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def take(self, key: int, limit: int) -> Verdict:
        now = self._clock()
        window = int(now // self.window_s)
        reset = max(1, math.ceil((window + 1) * self.window_s - now))
        with self._lock:
            seen, used = self._counts.get(key, (window, 0))
            used = used if seen == window else 0
            allowed = used < limit
            if allowed:
                used += 1
            self._counts[key] = (window, used)
        return Verdict(allowed, limit, max(0, limit - used), reset)
