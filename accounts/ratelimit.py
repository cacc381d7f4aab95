"""Atomic fixed-window counters in the cache (Redis in production).

`cache.add` creates the window's counter with its expiry only if it is absent, and `cache.incr`
is a single atomic INCR on Redis, so concurrent requests can never both slip under a limit
(unlike read-modify-write throttles).
"""

import time
from dataclasses import dataclass

from django.core.cache import cache

from accounts.exceptions import RateLimited


@dataclass(frozen=True)
class Limit:
    scope: str
    count: int
    seconds: int


def limit_hit(limit: Limit, key: str, *, now: float | None = None) -> int | None:
    """Count one hit against `limit` for `key`.

    Returns None while within the limit, else the seconds until the window resets.
    """
    now = time.time() if now is None else now
    window = int(now // limit.seconds)
    cache_key = f"rl:{limit.scope}:{key}:{window}"
    cache.add(cache_key, 0, timeout=limit.seconds + 1)
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # the key expired between add and incr: start a new window
        cache.add(cache_key, 1, timeout=limit.seconds + 1)
        hits = 1
    if hits > limit.count:
        return max(1, int((window + 1) * limit.seconds - now))
    return None


def limit_enforce(limit: Limit, key: str | None) -> None:
    """Raise RateLimited (with Retry-After) when `key` is over `limit`. No key, no limit."""
    if not key:
        return
    retry_after = limit_hit(limit, key)
    if retry_after is not None:
        raise RateLimited(retry_after=retry_after)
