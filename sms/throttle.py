"""Per-gateway rate limits: a token bucket of segments, shared by every worker through Redis.

A bucket holds up to `rate x SMS_RATE_BURST_SECONDS` tokens and refills at `rate` tokens (one
segment each) per second. Taking tokens is one Lua script, so concurrent workers never both
spend the last ones. Bulk kinds may not take the bucket below a `floor` (SMS_URGENT_RESERVE of
its capacity): that share is kept for codes and receipts, which a backlog of reminders can
therefore never starve. A message longer than the usable bucket is let through when the bucket
is full and leaves it in debt.

The caller passes the time, so tests freeze it; without Redis (the embedded default, a single
process) the same arithmetic runs in memory under a lock.
"""

import threading
import time

from django.conf import settings
from django.core.cache import cache

_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local need = math.min(cost, capacity - floor)
local wait = 0
if tokens - need >= floor - 1e-6 then
  tokens = tokens - cost
else
  wait = (need + floor - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""

EPSILON = 1e-6  # float refills (0.1 s x 10/s) must not fall a hair short of a token
_local_lock = threading.Lock()
_local_buckets: dict[str, tuple[float, float]] = {}
_script = None


def gateway_rate(gateway: str) -> float:
    rates = settings.SMS_GATEWAY_RATES
    return float(rates.get(gateway, rates.get("*", 50.0)))


def _take_local(key, rate, capacity, cost, floor, now) -> float:
    with _local_lock:
        tokens, ts = _local_buckets.get(key, (capacity, now))
        if now > ts:
            tokens, ts = min(capacity, tokens + (now - ts) * rate), now
        need = min(cost, capacity - floor)
        wait = 0.0
        if tokens - need >= floor - EPSILON:
            tokens -= cost
        else:
            wait = (need + floor - tokens) / rate
        _local_buckets[key] = (tokens, ts)
        return wait


def _take_redis(key, rate, capacity, cost, floor, now) -> float:
    global _script
    from django_redis import get_redis_connection

    if _script is None:
        _script = get_redis_connection("default").register_script(_TAKE)
    return float(_script(keys=[key], args=[rate, capacity, cost, floor, now]))


def tokens_take(gateway: str, segments: int, *, urgent: bool, now: float | None = None) -> float:
    """Take `segments` tokens from `gateway`'s bucket: 0.0 when taken, else the seconds to wait
    before asking again (nothing was taken)."""
    now = time.time() if now is None else now
    rate = gateway_rate(gateway)
    capacity = max(rate * settings.SMS_RATE_BURST_SECONDS, 1.0)
    floor = 0.0 if urgent else capacity * settings.SMS_URGENT_RESERVE
    key = cache.make_key(f"sms:bucket:{gateway}")
    take = _take_redis if "django_redis" in settings.CACHES["default"]["BACKEND"] else _take_local
    return take(key, rate, capacity, segments, floor, now)


def buckets_reset_local() -> None:
    """Forget the in-memory buckets (tests; Redis buckets go with the cache's keys)."""
    with _local_lock:
        _local_buckets.clear()
