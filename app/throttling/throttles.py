"""DRF's scoped throttle, counted so that it holds across processes and under concurrency.

DRF's own keeps each client's request times as one list in the cache: read, append, write back.
Two requests at once, on two workers or two threads, both read the same list and one append is
lost, so a burst of parallel logins got past the limit; and each request moves the whole list
(for a rate of thousands a minute, thousands of timestamps). Here a request is one atomic
increment of the client's counter for the current window (Redis INCR): the rate holds whatever
arrives at once, for two cache calls per request. Windows are fixed (at most twice the rate
across a window's edge), as django-ratelimit's are.
"""

from rest_framework.throttling import ScopedRateThrottle


class SharedScopedRateThrottle(ScopedRateThrottle):
    def allow_request(self, request, view):
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        window = int(self.timer() // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"{key}_{window}"
        self.cache.add(key, 0, self.duration + 1)  # SET NX with its expiry: one creator
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between the two calls
            self.cache.add(key, 1, self.duration + 1)
            count = 1
        return count <= self.num_requests

    def wait(self):
        return max(0.0, self.window_ends - self.timer())
