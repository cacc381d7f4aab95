"""Submitting and reviewing meter readings: worked examples with the consumption by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import AuditEvent
from billing.models import MeterReading
from billing.services.readings import (
    MeterRemoved,
    ReadingBelowPrevious,
    ReadingDuplicate,
    ReadingInvalid,
    ReadingNotPending,
    ReadingOutOfOrder,
    ReadingSuperseded,
    reading_review,
    reading_submit,
)
from tests.billing.meter_factories import customer_make, meter_make

pytestmark = pytest.mark.django_db
NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2026, 12, 20, 9, 0, tzinfo=UTC), tick=False):
        yield


def at(month: int, day: int = 28, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=NAIROBI)


def submit(meter, index, read_at, source="agent", **kwargs) -> MeterReading:
    return reading_submit(
        meter=meter, index=D(str(index)), read_at=read_at, source=source, **kwargs
    )


def submit_all(meter, indexes, first_month=1):
    return [submit(meter, index, at(first_month + i)) for i, index in enumerate(indexes)]


def test_consumption_is_the_difference_from_the_previous_accepted_reading():
    meter = meter_make(initial_index=100)

    readings = submit_all(meter, ["112.5", 123, 135, "147.25"])

    # 112.5-100, 123-112.5, 135-123, 147.25-135
    assert [r.consumption for r in readings] == [D("12.5"), D("10.5"), D(12), D("12.25")]
    assert {r.status for r in readings} == {"accepted"}
    assert not any(r.rolled_over for r in readings)


def test_reading_below_the_previous_one_is_refused_naming_the_previous_index():
    meter = meter_make(initial_index=100)
    submit(meter, 110, at(1))

    with pytest.raises(ReadingBelowPrevious) as caught:
        submit(meter, 105, at(2))

    assert caught.value.code == "reading_below_previous"
    assert "previous reading 110" in caught.value.message
    assert caught.value.extra == {"index": "105", "previous_index": "110"}
    assert MeterReading.objects.filter(meter=meter).count() == 1


def test_register_rollover_is_accepted_with_the_wrapped_consumption():
    # A five-digit register: 99999 is followed by 00000, one turn is 100000 units.
    meter = meter_make(max_index=99999, initial_index=99940)
    submit_all(meter, [99960, 99980, 99995])  # 20, 20, 15: average 18.333

    reading = submit(meter, 12, at(4))

    # 99995 -> 99999 is 4, -> 00000 is 1 more, -> 00012 is 12 more: 17.
    assert (reading.consumption, reading.rolled_over, reading.status) == (D(17), True, "accepted")


def test_rollover_on_a_register_with_decimals_counts_its_last_step():
    meter = meter_make(max_index=D("9999.9"), initial_index=D("9990.0"))

    reading = submit(meter, "0.4", at(1))

    # 9990.0 -> 9999.9 is 9.9, -> 0000.0 is 0.1, -> 0000.4 is 0.4: 10.4
    assert (reading.consumption, reading.rolled_over) == (D("10.4"), True)


def test_rollover_far_beyond_the_usual_usage_is_refused():
    meter = meter_make(max_index=99999, initial_index=99940)
    submit_all(meter, [99960, 99980, 99995])  # average 18.333, 3x = 55

    with pytest.raises(ReadingBelowPrevious, match="previous reading 99995"):
        submit(meter, 90, at(4))  # would be 95 units


def test_reading_below_a_previous_index_far_from_the_maximum_is_not_a_rollover():
    meter = meter_make(max_index=99999, initial_index=50000)

    with pytest.raises(ReadingBelowPrevious):
        submit(meter, 10, at(1))  # a wrap would mean 50010 units, over a tenth of a turn


@pytest.mark.parametrize(
    ("index", "status", "anomaly"),
    [(66, "accepted", ""), ("66.001", "pending_review", "over_3x_average")],
)
def test_consumption_over_three_times_the_trailing_average_is_held_for_review(
    index, status, anomaly
):
    meter = meter_make(initial_index=0)
    submit_all(meter, [10, 21, 33])  # 10, 11, 12: average 11, limit 3 x 11 = 33

    reading = submit(meter, index, at(4))  # 66 - 33 = 33 (at the limit), or 33.001 (over)

    assert (reading.status, reading.anomaly) == (status, anomaly)
    assert reading.consumption == D(str(index)) - 33


def test_the_trailing_average_moves_with_the_latest_three_accepted_readings():
    meter = meter_make(initial_index=0)
    submit_all(meter, [10, 21, 33, 66])  # 10, 11, 12, 33

    reading = submit(meter, 130, at(5))  # 64 > 3 x (11 + 12 + 33) / 3 = 56: held

    assert (reading.status, reading.anomaly) == ("pending_review", "over_3x_average")
    assert submit(meter, 100, at(6)).status == "accepted"  # 34 <= 56: measured from 66


def test_third_zero_consumption_in_a_row_is_held_for_review():
    meter = meter_make(initial_index=0)
    _, second = submit_all(meter, [10, 10])  # 10, then a first zero

    third = submit(meter, 10, at(3))  # second zero: accepted
    fourth = submit(meter, 10, at(4))  # third zero in a row: held

    assert second.status == third.status == "accepted"
    assert (fourth.status, fourth.anomaly, fourth.consumption) == (
        "pending_review",
        "zero_3_periods",
        D(0),
    )


@pytest.mark.parametrize("source", ["customer_ussd", "customer_sms"])
def test_customer_readings_always_wait_for_review(source):
    meter = meter_make(initial_index=0)
    submit_all(meter, [10, 20])

    reading = submit(meter, 30, at(3), source=source)

    assert (reading.status, reading.anomaly, reading.consumption) == (
        "pending_review",
        "customer_submitted",
        D(10),
    )


def test_second_reading_at_the_same_time_is_refused_unless_the_first_was_rejected():
    meter = meter_make(initial_index=0)
    held = submit(meter, 10, at(1), source="customer_sms")

    with pytest.raises(ReadingDuplicate):
        submit(meter, 11, at(1))
    reading_review(reading=held, accept=False, actor=None)

    assert submit(meter, 11, at(1)).status == "accepted"


def test_reading_older_than_the_latest_accepted_one_is_refused():
    meter = meter_make(initial_index=0)
    submit(meter, 20, at(2))

    with pytest.raises(ReadingOutOfOrder, match="already has an accepted reading of 20"):
        submit(meter, 10, at(1))


@pytest.mark.parametrize(
    ("index", "read_at"),
    [
        ("-1", at(1)),
        ("100000", at(1)),  # above the register's maximum
        ("12.0001", at(1)),
        ("twelve", at(1)),
        ("NaN", at(1)),
        ("12", datetime(2026, 12, 20, 12, 6, tzinfo=NAIROBI)),  # in the future
        ("12", datetime(2024, 12, 31, tzinfo=UTC)),  # before installation
        ("12", datetime(2026, 1, 28, 9)),  # no time zone
    ],
)
def test_impossible_readings_are_refused_clearly(index, read_at):
    meter = meter_make(initial_index=0)

    with pytest.raises(ReadingInvalid):
        reading_submit(meter=meter, index=index, read_at=read_at, source="agent")
    assert not MeterReading.objects.exists()


def test_float_index_is_a_programming_error_and_estimates_cannot_be_submitted():
    meter = meter_make(initial_index=0)
    with pytest.raises(TypeError):
        reading_submit(meter=meter, index=12.5, read_at=at(1), source="agent")
    with pytest.raises(ReadingInvalid):
        submit(meter, 12, at(1), source="estimate")


def test_accepting_a_held_reading_is_audited():
    reviewer = customer_make()
    meter = meter_make(initial_index=0)
    held = submit(meter, 10, at(1), source="customer_ussd")

    accepted = reading_review(reading=held, accept=True, actor=reviewer)

    assert (accepted.status, accepted.consumption) == ("accepted", D(10))
    event = AuditEvent.objects.get(action="meter_reading.accept")
    assert (event.actor, event.object_id) == (reviewer, str(held.pk))
    assert (event.before["status"], event.after["status"]) == ("pending_review", "accepted")


def test_a_reviewed_reading_cannot_be_reviewed_again():
    meter = meter_make(initial_index=0)
    held = submit(meter, 10, at(1), source="customer_ussd")
    reading_review(reading=held, accept=False, actor=None)

    with pytest.raises(ReadingNotPending):
        reading_review(reading=held, accept=True, actor=None)
    assert MeterReading.objects.get().status == "rejected"


def test_accepting_recomputes_consumption_against_readings_accepted_meanwhile():
    meter = meter_make(initial_index=0)
    held = submit(meter, 30, at(3), source="customer_sms")  # 30 when sent
    submit(meter, 20, at(2))  # an agent's older reading arrives later

    accepted = reading_review(reading=held, accept=True, actor=None)

    assert accepted.consumption == D(10)  # 30 - 20


def test_held_reading_overtaken_by_a_newer_accepted_reading_can_only_be_rejected():
    meter = meter_make(initial_index=0)
    held = submit(meter, 10, at(1), source="customer_sms")
    submit(meter, 20, at(2))  # measured from 0: it already covers the held reading's span

    with pytest.raises(ReadingSuperseded):
        reading_review(reading=held, accept=True, actor=None)
    assert reading_review(reading=held, accept=False, actor=None).status == "rejected"


def test_reading_on_a_removed_meter_is_refused():
    meter = meter_make(initial_index=0)
    meter.removed_at = at(1) - timedelta(days=1)
    meter.save()

    with pytest.raises(MeterRemoved):
        submit(meter, 10, at(1))
