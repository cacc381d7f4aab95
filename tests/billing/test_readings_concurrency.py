"""Readings and estimates under real concurrency (PostgreSQL row locks, real threads)."""

import threading
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.db import connection

from billing.models import MeterReading
from billing.services.readings import period_consumption, reading_submit
from tests.billing.meter_factories import invoice_make, meter_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 6


def at_once(work, count: int = THREADS) -> list:
    """Run work(i) in `count` threads released together; return results or exception names."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[i] = type(exc).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_same_reading_sent_from_several_phones_at_once_is_recorded_once():
    meter = meter_make(initial_index=0)
    read_at = datetime(2025, 6, 1, 9, tzinfo=UTC)

    results = at_once(
        lambda i: reading_submit(meter=meter, index=D(10 + i), read_at=read_at, source="agent")
    )

    outcomes = Counter(r if isinstance(r, str) else "recorded" for r in results)
    assert outcomes == {"recorded": 1, "ReadingDuplicate": THREADS - 1}
    assert MeterReading.objects.filter(meter=meter).count() == 1


def test_readings_sent_together_each_measure_from_the_one_before():
    meter = meter_make(initial_index=0)

    results = at_once(
        lambda i: reading_submit(
            meter=meter,
            index=D(10 * (i + 1)),
            read_at=datetime(2025, 6, 1 + i, tzinfo=UTC),
            source="agent",
        )
    )

    # Whatever order they ran in, the accepted ones chain: their consumption sums to the
    # highest accepted index, and none was measured against a reading it did not see.
    accepted = MeterReading.objects.filter(meter=meter, status="accepted").order_by("read_at")
    assert sum(r.consumption for r in accepted) == accepted.last().index
    refused = [r for r in results if isinstance(r, str)]
    assert set(refused) <= {"ReadingOutOfOrder"}
    assert len(refused) + MeterReading.objects.filter(meter=meter).count() == THREADS


def test_estimating_one_period_from_several_workers_records_one_estimate():
    meter = meter_make(initial_index=100)
    invoice_make(meter.account, period=date(2025, 5, 1), consumption=12)

    results = at_once(
        lambda _: period_consumption(
            account=meter.account, period_start=date(2025, 6, 1), period_end=date(2025, 6, 30)
        )
    )

    assert {(r.quantity, r.is_estimated) for r in results} == {(D(12), True)}
    estimate = MeterReading.objects.get(meter=meter)
    assert (estimate.is_estimated, estimate.index) == (True, D(112))
