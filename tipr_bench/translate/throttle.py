"""Requests-per-minute and tokens-per-minute limits as token buckets, so a run stays under a
provider's quota instead of collecting 429s.

A bucket refills continuously at limit/60 per second up to one minute's worth; a request takes
1 from the RPM bucket and its estimated tokens from the TPM bucket, waiting until both can pay.
Once the real usage is known, `settle` pays the difference (the balance may go negative, which
delays later requests).
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    def __init__(self, per_minute: float):
        if per_minute <= 0:
            raise ValueError("a limit per minute must be positive")
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, amount: float) -> float:
        """Seconds until `amount` can be taken (0 when it can be taken now)."""
        self._refill()
        need = min(amount, self.capacity) - self.level
        return max(0.0, need / self.rate)

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount


class RateLimiter:
    """RPM and/or TPM limits; with neither, `acquire` returns at once."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None):
        self.requests = TokenBucket(rpm) if rpm else None
        self.tokens = TokenBucket(tpm) if tpm else None
        self.active = bool(rpm or tpm)
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _lock_for_loop(self) -> asyncio.Lock:
        # A backend may serve several asyncio.run() calls; a lock belongs to one loop.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    async def acquire(self, tokens: int = 0) -> None:
        if not self.active:
            return
        async with self._lock_for_loop():  # first come, first served: no starvation of large requests
            while True:
                wait = max(
                    self.requests.wait_time(1) if self.requests else 0.0,
                    self.tokens.wait_time(tokens) if self.tokens else 0.0,
                )
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests:
                self.requests.take(1)
            if self.tokens:
                self.tokens.take(tokens)

    def settle(self, estimated: int, actual: int) -> None:
        """Charge the TPM bucket the difference between the estimate and the real usage."""
        if self.tokens is not None and actual != estimated:
            self.tokens.take(actual - estimated)
