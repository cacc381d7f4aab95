"""What a billing period bills: measured readings, estimates, their correction, meter swaps."""

from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing.models import MeterReading
from billing.services.readings import (
    ReadingBelowPrevious,
    period_consumption,
    reading_submit,
    readings_mark_invoiced,
)
from tests.billing.meter_factories import (
    account_make,
    invoice_make,
    meter_make,
    reading_make,
)

pytestmark = pytest.mark.django_db
NAIROBI = ZoneInfo("Africa/Nairobi")
NOV = (date(2026, 11, 1), date(2026, 11, 30))
DEC = (date(2026, 12, 1), date(2026, 12, 31))


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2027, 2, 10, 9, 0, tzinfo=UTC), tick=False):
        yield


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NAIROBI)


def submit(meter, index, read_at, source="agent") -> MeterReading:
    return reading_submit(meter=meter, index=D(str(index)), read_at=read_at, source=source)


def bill(account, period):
    """What the billing run does with the consumption: invoice it, link its readings."""
    found = period_consumption(account=account, period_start=period[0], period_end=period[1])
    invoice = invoice_make(account, period=period[0], consumption=found.quantity)
    readings_mark_invoiced({account.pk: found.readings}, {account.pk: invoice})
    return found


@pytest.fixture
def billed_meter():
    """A meter read at 1000 on 28 October, after invoices of 10, 12 and 14 (Aug-Oct)."""
    meter = meter_make(initial_index=964)
    for month, index, used in [(8, 974, 10), (9, 986, 12), (10, 1000, 14)]:
        reading = reading_make(meter, index, at(2026, month, 28), consumption=used)
        invoice = invoice_make(meter.account, period=date(2026, month, 1), consumption=used)
        readings_mark_invoiced({meter.account_id: [reading]}, {meter.account_id: invoice})
    return meter


def test_period_sums_the_accepted_readings_read_in_it_in_the_operators_time_zone(billed_meter):
    account = billed_meter.account
    # 31 Oct 21:30 UTC is 1 Nov 00:30 in Nairobi: November.
    first = submit(billed_meter, 1004, datetime(2026, 10, 31, 21, 30, tzinfo=UTC))
    second = submit(billed_meter, 1010, at(2026, 11, 15))
    submit(billed_meter, 1013, at(2026, 11, 20), source="customer_sms")  # held: not billed
    # 30 Nov 21:30 UTC is 1 Dec 00:30 in Nairobi: December.
    submit(billed_meter, 1030, datetime(2026, 11, 30, 21, 30, tzinfo=UTC))

    found = period_consumption(account=account, period_start=NOV[0], period_end=NOV[1])

    assert (found.quantity, found.is_estimated) == (D(10), False)  # 4 + 6
    assert found.readings == [first, second]


def test_reading_accepted_after_its_period_was_billed_is_carried_into_the_next_bill():
    meter = meter_make(initial_index=0)
    account = meter.account
    submit(meter, 10, at(2026, 11, 10))
    bill(account, NOV)
    late = submit(meter, 14, at(2026, 11, 29))  # read in November, sent after the run

    found = period_consumption(account=account, period_start=DEC[0], period_end=DEC[1])

    assert (found.quantity, found.is_estimated, found.readings) == (D(4), False, [late])


def test_unread_period_is_estimated_from_the_last_three_invoiced_periods(billed_meter):
    account = billed_meter.account
    invoice_make(account, period=date(2026, 7, 1), consumption=100)  # a fourth, older: ignored

    found = period_consumption(account=account, period_start=NOV[0], period_end=NOV[1])

    # (10 + 12 + 14) / 3 = 12
    assert (found.quantity, found.is_estimated) == (D(12), True)
    (estimate,) = found.readings
    estimate.refresh_from_db()
    assert (estimate.index, estimate.consumption, estimate.source) == (D(1012), D(12), "estimate")
    assert (estimate.status, estimate.is_estimated, estimate.meter) == (
        "accepted",
        True,
        billed_meter,
    )
    assert estimate.read_at == datetime(2026, 11, 30, 23, 59, 59, tzinfo=NAIROBI)


def test_estimate_uses_what_history_there_is_rounded_half_up_to_the_thousandth():
    meter = meter_make(initial_index=50)
    invoice_make(meter.account, period=date(2026, 9, 1), consumption=D("10.001"))
    invoice_make(meter.account, period=date(2026, 10, 1), consumption=10)

    found = period_consumption(account=meter.account, period_start=NOV[0], period_end=NOV[1])

    assert found.quantity == D("10.001")  # 20.001 / 2 = 10.0005 -> 10.001 (half up)
    assert found.readings[0].index == D("60.001")


def test_estimate_skips_cancelled_invoices_and_counts_a_corrected_period_once():
    meter = meter_make(initial_index=0)
    account = meter.account
    invoice_make(account, period=date(2026, 7, 1), consumption=9)
    invoice_make(account, period=date(2026, 8, 1), consumption=500, status="cancelled")
    wrong = invoice_make(account, period=date(2026, 9, 1), consumption=90)
    invoice_make(account, period=date(2026, 9, 1), consumption=15, replaces=wrong)
    invoice_make(account, period=date(2026, 10, 1), consumption=12)

    found = period_consumption(account=account, period_start=NOV[0], period_end=NOV[1])

    assert found.quantity == D(12)  # (9 + 15 + 12) / 3


def test_account_without_history_is_estimated_at_zero():
    meter = meter_make(initial_index=50)

    found = period_consumption(account=meter.account, period_start=NOV[0], period_end=NOV[1])

    assert (found.quantity, found.is_estimated) == (D(0), True)
    assert found.readings[0].index == D(50)


def test_asking_twice_before_invoicing_records_one_estimate(billed_meter):
    account = billed_meter.account
    first = period_consumption(account=account, period_start=NOV[0], period_end=NOV[1])
    again = period_consumption(account=account, period_start=NOV[0], period_end=NOV[1])

    assert (again.quantity, again.is_estimated) == (D(12), True)
    assert [r.pk for r in again.readings] == [r.pk for r in first.readings]
    assert MeterReading.objects.filter(is_estimated=True).count() == 1


def test_next_real_reading_above_the_estimate_bills_the_rest(billed_meter):
    account = billed_meter.account
    assert bill(account, NOV).quantity == D(12)  # estimated index 1012

    reading = submit(billed_meter, 1030, at(2026, 12, 28))

    assert reading.consumption == D(18)  # 1030 - 1012
    found = bill(account, DEC)
    assert (found.quantity, found.is_estimated) == (D(18), False)
    # Billed over the two months: 12 + 18 = 30 = 1030 - 1000, what the meter really turned.


def test_next_real_reading_below_the_estimate_gives_a_correction_credit(billed_meter):
    account = billed_meter.account
    bill(account, NOV)  # estimated 12: index 1012

    reading = submit(billed_meter, 1005, at(2026, 12, 28))

    assert (reading.status, reading.consumption) == ("accepted", D(-7))  # 1005 - 1012
    found = bill(account, DEC)
    assert (found.quantity, found.is_estimated) == (D(-7), False)
    # 12 - 7 = 5 = 1005 - 1000: the overestimate came back on the next bill.


def test_reading_below_the_last_real_reading_is_still_refused_after_an_estimate(billed_meter):
    bill(billed_meter.account, NOV)  # estimated index 1012

    with pytest.raises(ReadingBelowPrevious, match="previous reading 1000"):
        submit(billed_meter, 995, at(2026, 12, 28))


def test_two_estimates_in_a_row_are_both_corrected_by_the_next_reading(billed_meter):
    account = billed_meter.account
    assert bill(account, NOV).quantity == D(12)  # (10 + 12 + 14) / 3, index 1012
    assert bill(account, DEC).quantity == D("12.667")  # (12 + 14 + 12) / 3, index 1024.667

    reading = submit(billed_meter, 1020, at(2027, 1, 28))

    assert reading.consumption == D("-4.667")  # 1020 - 1024.667
    # 12 + 12.667 - 4.667 = 20 = 1020 - 1000.


def test_estimate_past_the_top_of_the_register_wraps_and_is_corrected_across_it():
    meter = meter_make(max_index=99999, initial_index=99960)
    reading = reading_make(meter, 99995, at(2026, 10, 28), consumption=35)
    invoice = invoice_make(meter.account, period=date(2026, 10, 1), consumption=12)
    readings_mark_invoiced({meter.account_id: [reading]}, {meter.account_id: invoice})

    estimate = bill(meter.account, NOV).readings[0]
    assert (estimate.index, estimate.rolled_over) == (D(7), True)  # 99995 + 12 - 100000

    reading = submit(meter, 10, at(2026, 12, 28))

    # The register went 99995 -> 99999 -> 00000 -> 00010: 15 units, 12 of them estimated.
    assert (reading.consumption, reading.rolled_over) == (D(3), True)


def test_period_already_covered_by_a_later_reading_bills_zero_without_an_estimate():
    meter = meter_make(initial_index=0)
    invoice_make(meter.account, period=date(2026, 10, 1), consumption=12)
    submit(meter, 30, at(2026, 12, 3))  # read before the November run got to this account

    found = period_consumption(account=meter.account, period_start=NOV[0], period_end=NOV[1])

    assert (found.quantity, found.is_estimated, found.readings) == (D(0), True, [])
    assert not MeterReading.objects.filter(is_estimated=True).exists()


def test_account_without_a_meter_bills_zero_not_estimated():
    account = account_make()

    found = period_consumption(account=account, period_start=NOV[0], period_end=NOV[1])

    assert (found.quantity, found.is_estimated, found.readings) == (D(0), False, [])
