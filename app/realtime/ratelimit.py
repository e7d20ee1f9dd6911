import time


class TokenBucket:
    """Per-connection message rate limit: `rate` per second, bursts up to `burst`."""

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate = rate
        self.capacity = burst
        self.tokens = float(burst)
        self.clock = clock
        self.updated = clock()

    def allow(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
