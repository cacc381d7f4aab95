"""Per-gateway rate limits: a token bucket of segments, shared by every worker through Redis.

A bucket holds up to `rate x SMS_RATE_BURST_SECONDS` tokens and refills at `rate` tokens (one
segment each) per second. Taking tokens is one Lua script, so concurrent workers never both
spend the last ones. Bulk kinds may not take the bucket below a `floor` (SMS_URGENT_RESERVE of
its capacity): that share is kept for codes and receipts, which a backlog of reminders can
therefore never starve. A message longer than the usable bucket is let through when the bucket
is full and leaves it in debt.

A batch asks once for its messages' tokens (`tokens_take_many`): the messages are served in
order while the bucket allows, as if each had asked in turn, and the answer says how many got
theirs and how long the next must wait.

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
local floor = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local taken = 0
local wait = 0
for i = 5, #ARGV do
  local cost = tonumber(ARGV[i])
  local need = math.min(cost, capacity - floor)
  if tokens - need < floor - 1e-6 then
    wait = (need + floor - tokens) / rate
    break
  end
  tokens = tokens - cost
  taken = taken + 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return {taken, tostring(wait)}
"""

EPSILON = 1e-6  # float refills (0.1 s x 10/s) must not fall a hair short of a token
_local_lock = threading.Lock()
_local_buckets: dict[str, tuple[float, float]] = {}
_script = None


def gateway_rate(gateway: str) -> float:
    rates = settings.SMS_GATEWAY_RATES
    return float(rates.get(gateway, rates.get("*", 50.0)))


def _take_local(key, rate, capacity, costs, floor, now) -> tuple[int, float]:
    with _local_lock:
        tokens, ts = _local_buckets.get(key, (capacity, now))
        if now > ts:
            tokens, ts = min(capacity, tokens + (now - ts) * rate), now
        taken, wait = 0, 0.0
        for cost in costs:
            need = min(cost, capacity - floor)
            if tokens - need < floor - EPSILON:
                wait = (need + floor - tokens) / rate
                break
            tokens -= cost
            taken += 1
        _local_buckets[key] = (tokens, ts)
        return taken, wait


def _take_redis(key, rate, capacity, costs, floor, now) -> tuple[int, float]:
    global _script
    from django_redis import get_redis_connection

    if _script is None:
        _script = get_redis_connection("default").register_script(_TAKE)
    taken, wait = _script(keys=[key], args=[rate, capacity, floor, now, *costs])
    return int(taken), float(wait)


def tokens_take_many(
    gateway: str, costs: list[int], *, urgent: bool, now: float | None = None
) -> tuple[int, float]:
    """Take tokens from `gateway`'s bucket for messages of `costs` segments, in order, while it
    allows: (how many got theirs, seconds until the next one could; 0.0 if all did)."""
    now = time.time() if now is None else now
    rate = gateway_rate(gateway)
    capacity = max(rate * settings.SMS_RATE_BURST_SECONDS, 1.0)
    floor = 0.0 if urgent else capacity * settings.SMS_URGENT_RESERVE
    key = cache.make_key(f"sms:bucket:{gateway}")
    take = _take_redis if "django_redis" in settings.CACHES["default"]["BACKEND"] else _take_local
    return take(key, rate, capacity, costs, floor, now)


def tokens_take(gateway: str, segments: int, *, urgent: bool, now: float | None = None) -> float:
    """Take `segments` tokens from `gateway`'s bucket: 0.0 when taken, else the seconds to wait
    before asking again (nothing was taken)."""
    return tokens_take_many(gateway, [segments], urgent=urgent, now=now)[1]


def buckets_reset_local() -> None:
    """Forget the in-memory buckets (tests; Redis buckets go with the cache's keys)."""
    with _local_lock:
        _local_buckets.clear()
