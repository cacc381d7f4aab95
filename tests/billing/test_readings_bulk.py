"""The billing run's bulk path: a chunk of accounts costs a few queries, whatever its size."""

from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing.models import MeterReading
from billing.services.consumption import ReadingsAlreadyInvoiced
from billing.services.readings import (
    period_consumption,
    period_consumption_bulk,
    readings_mark_invoiced,
)
from tests.billing.meter_factories import (
    account_make,
    invoice_make,
    meter_make,
    operator_make,
    reading_make,
)

pytestmark = pytest.mark.django_db
NAIROBI = ZoneInfo("Africa/Nairobi")
NOV_START, NOV_END = date(2026, 11, 1), date(2026, 11, 30)
# 6 reads, 1 INSERT per batch of estimates (SQLite caps a batch at 999 parameters: 83 rows),
# and the savepoint of the atomic block with its release.
QUERY_BUDGET = 10


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2026, 12, 5, tzinfo=UTC), tick=False):
        yield


def mixed_accounts(count: int):
    """Thirds: read in November, unread with history (estimated), without a meter."""
    operator = operator_make()
    accounts = []
    for n in range(count):
        account = account_make(operator)
        if n % 3 == 0:
            meter = meter_make(account, initial_index=100)
            reading_make(meter, 100 + n, datetime(2026, 11, 20, 9, tzinfo=NAIROBI), consumption=n)
        elif n % 3 == 1:
            meter_make(account, initial_index=100)
            invoice_make(account, period=date(2026, 10, 1), consumption=n)
        accounts.append(account)
    return accounts


@pytest.mark.parametrize("count", [12, 240])
def test_bulk_consumption_uses_a_constant_number_of_queries(count, django_assert_max_num_queries):
    accounts = mixed_accounts(count)

    with django_assert_max_num_queries(QUERY_BUDGET):
        found = period_consumption_bulk(
            accounts=accounts, period_start=NOV_START, period_end=NOV_END
        )

    for n, account in enumerate(accounts):
        expected = (D(n), n % 3 == 1) if n % 3 != 2 else (D(0), False)
        assert (found[account.pk].quantity, found[account.pk].is_estimated) == expected
    assert MeterReading.objects.filter(is_estimated=True).count() == count // 3


def test_bulk_and_single_agree():
    accounts = mixed_accounts(6)

    bulk = period_consumption_bulk(accounts=accounts, period_start=NOV_START, period_end=NOV_END)
    single = {
        a.pk: period_consumption(account=a, period_start=NOV_START, period_end=NOV_END)
        for a in accounts
    }

    assert {k: (v.quantity, v.is_estimated) for k, v in bulk.items()} == {
        k: (v.quantity, v.is_estimated) for k, v in single.items()
    }
    assert MeterReading.objects.filter(is_estimated=True).count() == 2  # not made twice


def test_marking_invoiced_links_every_reading_in_one_update(django_assert_max_num_queries):
    accounts = mixed_accounts(30)
    found = period_consumption_bulk(accounts=accounts, period_start=NOV_START, period_end=NOV_END)
    invoices = {a.pk: invoice_make(a, period=NOV_START, consumption=0) for a in accounts}
    readings = {pk: consumption.readings for pk, consumption in found.items()}

    with django_assert_max_num_queries(3):
        marked = readings_mark_invoiced(readings, invoices)

    assert marked == 20  # 10 read + 10 estimated
    for account in accounts:
        on_invoice = MeterReading.objects.filter(invoice=invoices[account.pk])
        assert set(on_invoice) == set(found[account.pk].readings)
    again = period_consumption_bulk(accounts=accounts, period_start=NOV_START, period_end=NOV_END)
    invoiced = {r.pk for rs in readings.values() for r in rs}
    assert not invoiced & {r.pk for c in again.values() for r in c.readings}


def test_marking_a_reading_that_is_already_invoiced_changes_nothing():
    meter = meter_make(initial_index=0)
    account = meter.account
    billed = reading_make(meter, 10, datetime(2026, 10, 20, tzinfo=NAIROBI), consumption=10)
    fresh = reading_make(meter, 20, datetime(2026, 11, 20, tzinfo=NAIROBI), consumption=10)
    october = invoice_make(account, period=date(2026, 10, 1), consumption=10)
    november = invoice_make(account, period=NOV_START, consumption=10)
    readings_mark_invoiced({account.pk: [billed]}, {account.pk: october})

    with pytest.raises(ReadingsAlreadyInvoiced):
        readings_mark_invoiced({account.pk: [fresh, billed]}, {account.pk: november})

    fresh.refresh_from_db()
    billed.refresh_from_db()
    assert (fresh.invoice, billed.invoice) == (None, october)


def test_a_chunk_costs_six_reads_and_one_insert(django_assert_num_queries):
    accounts = mixed_accounts(9)

    # Savepoint; lock accounts, lock meters, unbilled readings, latest readings, invoiced
    # periods; INSERT of the estimates; release.
    with django_assert_num_queries(8):
        period_consumption_bulk(accounts=accounts, period_start=NOV_START, period_end=NOV_END)
