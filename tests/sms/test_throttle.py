"""Per-gateway rate limits: a token bucket of segments, with a share kept for codes and receipts."""

import threading
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from sms import throttle
from sms.dispatch import outbox_dispatch
from sms.models import MessageKind, SmsContact
from sms.services import message_queue

NAIROBI = ZoneInfo("Africa/Nairobi")
T0 = 1_800_000_000.0
# 10 segments a second, a bucket of 10, of which 2 are kept for codes and receipts.
RATE, CAPACITY, FLOOR = 10.0, 10.0, 2.0


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def take(request):
    """One of the two implementations (same arithmetic), on a fresh bucket."""
    key = cache.make_key(f"sms:bucket:test-{request.param}")
    throttle.buckets_reset_local()
    implementation = throttle._take_local if request.param == "memory" else throttle._take_redis
    return lambda cost, floor, now: implementation(key, RATE, CAPACITY, [cost], floor, now)[1]


def test_bulk_stops_at_the_reserve_that_codes_and_receipts_may_still_use(take):
    bulk = [take(1, FLOOR, T0) for _ in range(9)]
    urgent = [take(1, 0, T0) for _ in range(3)]

    assert bulk[:8] == [0] * 8
    assert bulk[8] == pytest.approx(0.1)  # one more segment above the floor: 0.1 s away
    assert urgent[:2] == [0, 0]
    assert urgent[2] == pytest.approx(0.1)


def test_tokens_come_back_with_time_and_never_beyond_the_bucket(take):
    for _ in range(8):
        take(1, FLOOR, T0)

    assert take(1, FLOOR, T0 + 0.05) > 0
    assert take(1, FLOOR, T0 + 0.1) == 0
    assert [take(1, 0, T0 + 100) for _ in range(10)] == [0] * 10  # refilled to 10, not 1000
    assert take(1, 0, T0 + 100) > 0


def test_rate_limits_count_segments_and_a_long_message_is_not_starved(take):
    assert take(3, FLOOR, T0) == 0
    assert take(6, FLOOR, T0) > 0  # 7 left, 6 would cross the floor of 2
    assert take(5, FLOOR, T0) == 0
    assert take(20, 0, T0) > 0  # longer than the bucket: waits for a full bucket...
    assert take(20, 0, T0 + 10) == 0  # ...then goes, leaving the bucket in debt
    assert take(1, 0, T0 + 10.5) > 0


_IMPLEMENTATIONS = [
    pytest.param(throttle._take_local, id="memory"),
    pytest.param(throttle._take_redis, id="redis", marks=pytest.mark.redis),
]


@pytest.mark.parametrize("implementation", _IMPLEMENTATIONS)
@hypothesis_settings(max_examples=60, deadline=None)
@given(
    spent=st.lists(st.integers(1, 4), max_size=4),
    costs=st.lists(st.integers(1, 14), min_size=1, max_size=12),
    urgent=st.booleans(),
    later=st.integers(0, 2000).map(lambda ms: ms / 1000),  # Redis keeps the time to 0.1 ms
)
def test_a_batch_gets_the_tokens_its_messages_would_get_asking_one_by_one(
    implementation, spent, costs, urgent, later
):
    floor = 0.0 if urgent else FLOOR
    batch_key, single_key = (cache.make_key(f"sms:bucket:{uuid.uuid4().hex}") for _ in "ab")
    for key in (batch_key, single_key):  # the same history for both buckets
        for cost in spent:
            implementation(key, RATE, CAPACITY, [cost], FLOOR, T0)

    taken, wait = implementation(batch_key, RATE, CAPACITY, costs, floor, T0 + later)
    one_by_one = []
    for cost in costs:
        got, single_wait = implementation(single_key, RATE, CAPACITY, [cost], floor, T0 + later)
        if not got:
            break
        one_by_one.append(cost)

    assert taken == len(one_by_one)
    assert wait == pytest.approx(single_wait if taken < len(costs) else 0.0)
    # ...and both buckets are left alike: the next message meets the same answer.
    after = T0 + later + 0.05
    assert implementation(batch_key, RATE, CAPACITY, [1], floor, after) == pytest.approx(
        implementation(single_key, RATE, CAPACITY, [1], floor, after)
    )


@pytest.mark.redis
def test_concurrent_workers_never_spend_the_same_tokens():
    key = cache.make_key("sms:bucket:race")
    granted = []
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        taken, _ = throttle._take_redis(key, RATE, CAPACITY, [1], 0, T0)
        granted.append(taken == 1)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert granted.count(True) == 10


@pytest.mark.django_db
def test_a_message_over_the_rate_waits_in_the_outbox_and_a_code_still_goes(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SMS_ROUTES = ["*:console"]
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
    settings.SMS_GATEWAY_RATES = {"console": 2.0}
    settings.SMS_RATE_BURST_SECONDS = 1.0  # a bucket of 2 segments
    settings.SMS_URGENT_RESERVE = 0.5  # of which 1 is for codes and receipts

    def queue(n, kind=MessageKind.NOTICE, body="Water off on Tuesday"):
        with django_capture_on_commit_callbacks(execute=True):
            message = message_queue(
                to=f"+25471200080{n}", body=body, kind=kind, idempotency_key=f"k{n}"
            )
        message.refresh_from_db()
        return message

    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI), tick=False) as clock:
        first = queue(1)
        held = queue(2)
        code = queue(3, MessageKind.OTP, body="Malipo code: 123456")
        assert (first.status, code.status) == ("sent", "sent")
        assert (held.status, held.defer_reason, held.attempts) == ("queued", "rate_limit", 0)
        assert SmsContact.objects.get(phone=held.to).day_count == 0  # the try is not counted

        clock.shift(1)
        outbox_dispatch()
        held.refresh_from_db()
        assert held.status == "sent"
        two_segments = queue(4, body="x" * 200)  # 2 segments: one token left, for codes
        assert (two_segments.status, two_segments.segments) == ("queued", 2)

    assert len(Path(settings.SMS_CONSOLE_FILE).read_text().splitlines()) == 3
