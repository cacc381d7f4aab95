"""Swapping a meter: a final reading on the old one, the new one from its initial index."""

from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import AuditEvent
from billing.models import Meter, MeterReading
from billing.services.readings import (
    MeterNotOnAccount,
    MeterRemoved,
    MeterSerialTaken,
    ReadingBelowPrevious,
    meter_replace,
    period_consumption,
    reading_submit,
    readings_mark_invoiced,
)
from tests.billing.meter_factories import customer_make, invoice_make, meter_make

pytestmark = pytest.mark.django_db
NAIROBI = ZoneInfo("Africa/Nairobi")
NOV = (date(2026, 11, 1), date(2026, 11, 30))
DEC = (date(2026, 12, 1), date(2026, 12, 31))


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2027, 2, 10, 9, 0, tzinfo=UTC), tick=False):
        yield


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=NAIROBI)


def submit(meter, index, read_at) -> MeterReading:
    return reading_submit(meter=meter, index=D(str(index)), read_at=read_at, source="agent")


def bill(account, period):
    found = period_consumption(account=account, period_start=period[0], period_end=period[1])
    invoice = invoice_make(account, period=period[0], consumption=found.quantity)
    readings_mark_invoiced({account.pk: found.readings}, {account.pk: invoice})
    return found


def test_meter_swap_inside_a_period_bills_both_meters():
    technician = customer_make()
    old = meter_make(initial_index=480)
    account = old.account
    submit(old, 500, at(2026, 11, 5))  # 20 on the old meter

    new = meter_replace(
        account=account,
        old_meter=old,
        final_index=D(510),  # 10 more on the old meter
        new_serial="KE-NEW-1",
        new_initial_index=D(3),
        at=at(2026, 11, 15),
        actor=technician,
    )
    submit(new, 15, at(2026, 11, 28))  # 12 on the new meter

    found = period_consumption(account=account, period_start=NOV[0], period_end=NOV[1])
    assert found.quantity == D(42)  # 20 + 10 + 12
    old.refresh_from_db()
    assert old.removed_at == at(2026, 11, 15)
    assert (new.serial, new.initial_index, new.installed_at) == ("KE-NEW-1", 3, at(2026, 11, 15))
    assert AuditEvent.objects.get(action="meter.replace").after["new_meter"] == new.pk
    with pytest.raises(MeterRemoved):
        submit(old, 520, at(2026, 11, 29))


def test_next_period_after_a_swap_is_estimated_on_the_new_meter():
    old = meter_make(initial_index=0)
    invoice_make(old.account, period=date(2026, 10, 1), consumption=9)
    new = meter_replace(
        account=old.account,
        old_meter=old,
        final_index=D(40),
        new_serial="KE-NEW-2",
        new_initial_index=D(0),
        at=at(2026, 11, 15),
    )
    bill(old.account, NOV)

    found = bill(old.account, DEC)

    assert (found.quantity, found.is_estimated) == (D("24.5"), True)  # (9 + 40) / 2
    assert found.readings[0].meter == new
    assert Meter.objects.get(pk=new.pk).removed_at is None


def test_swap_is_refused_for_a_taken_serial_or_another_accounts_meter():
    old = meter_make(initial_index=0)
    other = meter_make(initial_index=0)
    swap = {
        "final_index": D(5),
        "new_initial_index": D(0),
        "at": at(2026, 11, 15),
    }

    with pytest.raises(MeterSerialTaken):
        meter_replace(account=old.account, old_meter=old, new_serial=other.serial, **swap)
    with pytest.raises(MeterNotOnAccount):
        meter_replace(account=old.account, old_meter=other, new_serial="KE-NEW-3", **swap)
    assert not MeterReading.objects.exists()
    assert Meter.objects.filter(removed_at__isnull=False).count() == 0


def test_swap_with_a_final_index_below_the_previous_reading_changes_nothing():
    old = meter_make(initial_index=0)
    submit(old, 50, at(2026, 11, 5))

    with pytest.raises(ReadingBelowPrevious):
        meter_replace(
            account=old.account,
            old_meter=old,
            final_index=D(40),
            new_serial="KE-NEW-4",
            new_initial_index=D(0),
            at=at(2026, 11, 15),
        )
    old.refresh_from_db()
    assert old.removed_at is None
    assert not Meter.objects.filter(serial="KE-NEW-4").exists()
