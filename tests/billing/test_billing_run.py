"""The bulk billing run: every active account once, gap-free numbers, constant queries."""

import threading
from datetime import date
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import (
    DocumentSequence,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    JournalTransaction,
    MeterReading,
)
from billing.money import Money
from billing.selectors import account_balance
from billing.services import billing_run as billing_run_module
from billing.services.billing_run import billing_run
from billing.services.invoices import invoice_issue
from billing.services.payments import payment_record
from tests.billing.invoice_factories import (
    NOV,
    account_make,
    billed_account,
    meter_with_usage,
    operator_make,
    price_index_make,
    tariff_make,
)

pytestmark = pytest.mark.django_db
WATER = {"standing_charge": 150, "service_fee": 50, "vat_rate": "0.16"}


@pytest.fixture
def water():
    operator = operator_make()
    return operator, tariff_make(operator, **WATER)


def numbers_in_account_order(operator) -> list[str]:
    invoices = Invoice.objects.filter(operator=operator).order_by("account_id")
    return list(invoices.values_list("number", flat=True))


def test_run_invoices_every_active_account_and_only_those(water):
    operator, tariff = water
    active = [billed_account(operator, tariff, usage) for usage in ("0", "5", "42")]
    for status in ("suspended", "closed"):
        meter_with_usage(account_make(operator, tariff, status=status), "9")
    elsewhere = operator_make()
    billed_account(elsewhere, tariff_make(elsewhere), "7")

    summary = billing_run(operator=operator, period=date(2026, 11, 20), chunk_size=2)

    assert summary == {"accounts": 3, "created": 3, "skipped": 0, "errors": 0, "error_codes": {}}
    billed = Invoice.objects.filter(operator=operator)
    # 0 m3: 150 + 50 + VAT 32 = 232.00; 5 m3: 7.50 + 200 + VAT 33.20 = 240.70; 42 m3: 330.60.
    totals = dict(billed.values_list("account_id", "total_minor"))
    assert totals == {active[0].pk: 23200, active[1].pk: 24070, active[2].pk: 33060}
    assert not Invoice.objects.filter(operator=elsewhere).exists()
    unbilled = MeterReading.objects.filter(meter__account__operator=operator, invoice=None)
    assert set(unbilled.values_list("meter__account__status", flat=True)) == {
        "suspended",
        "closed",
    }


def test_bulk_run_makes_the_same_invoice_as_issuing_one(water):
    operator, tariff = water
    bulk, single = (billed_account(operator, tariff, "42") for _ in range(2))
    billing_run(operator=operator, period=NOV)
    one = invoice_issue(account=single, period=NOV)
    run = Invoice.objects.get(account=bulk)

    def shape(invoice):
        rows = invoice.lines.values_list("kind", "description", "quantity", "amount_minor")
        return invoice.total_minor, invoice.issue_date, invoice.due_date, list(rows)

    assert shape(run) == shape(one)
    assert account_balance(bulk) == account_balance(single) == Money(33060, "KES")


def test_running_twice_creates_nothing_twice(water):
    operator, tariff = water
    for usage in ("1", "2", "3"):
        billed_account(operator, tariff, usage)
    billing_run(operator=operator, period=NOV, chunk_size=2)
    again = billing_run(operator=operator, period=NOV, chunk_size=2)
    assert again == {"accounts": 3, "created": 0, "skipped": 3, "errors": 0, "error_codes": {}}
    assert Invoice.objects.count() == JournalTransaction.objects.count() == 3
    assert DocumentSequence.objects.get(operator=operator, kind="invoice").next_number == 4


def test_numbers_follow_account_order_without_gaps_across_chunks(water):
    operator, tariff = water
    for _ in range(5):
        billed_account(operator, tariff, "3")
    billing_run(operator=operator, period=NOV, chunk_size=2)
    assert numbers_in_account_order(operator) == [f"INV-00000{n}" for n in range(1, 6)]


def test_a_rolled_back_chunk_leaves_no_gap_in_the_numbers(water):
    operator, tariff = water
    for _ in range(5):
        billed_account(operator, tariff, "3")
    real_post = billing_run_module.ledger_post_many
    calls = []

    def fail_second_chunk(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_post(**kwargs)

    with (
        mock.patch.object(billing_run_module, "ledger_post_many", fail_second_chunk),
        pytest.raises(RuntimeError),
    ):
        billing_run(operator=operator, period=NOV, chunk_size=2)
    assert numbers_in_account_order(operator) == ["INV-000001", "INV-000002"]

    summary = billing_run(operator=operator, period=NOV, chunk_size=2)
    assert (summary["created"], summary["skipped"]) == (3, 2)
    assert numbers_in_account_order(operator) == [f"INV-00000{n}" for n in range(1, 6)]


def test_accounts_that_cannot_be_priced_are_counted_and_the_rest_billed(water):
    operator, tariff = water
    index = price_index_make(operator, month=date(2026, 10, 1))
    indexed = tariff_make(operator, utility="electricity", pricing="indexed", price_index=index)
    billed_account(operator, indexed, "10")
    billed_account(operator, tariff, "10")
    summary = billing_run(operator=operator, period=NOV)
    assert summary["created"] == 1
    assert (summary["errors"], summary["error_codes"]) == (1, {"price_index_missing": 1})
    assert numbers_in_account_order(operator) == ["INV-000001"]


def test_credit_is_applied_to_accounts_that_have_some(water):
    operator, tariff = water
    in_credit, owing = (
        billed_account(operator, tariff, "42"),
        billed_account(operator, tariff, "42"),
    )
    payment_record(
        account=in_credit,
        amount=Money.of("1000", "KES"),
        source="mpesa",
        reference="QX1",
        clearing="clearing:mpesa",
    )
    with mock.patch.object(
        billing_run_module,
        "customer_credit_apply",
        wraps=billing_run_module.customer_credit_apply,
    ) as applied:
        billing_run(operator=operator, period=NOV)
    assert [call.kwargs["account"].pk for call in applied.call_args_list] == [in_credit.pk]
    statuses = dict(Invoice.objects.values_list("account_id", "status"))
    assert statuses == {in_credit.pk: InvoiceStatus.PAID, owing.pk: InvoiceStatus.ISSUED}
    assert account_balance(in_credit) == Money.of("-669.40", "KES")


def _queries_for_one_chunk(operator, tariff, accounts: int) -> int:
    for usage in range(accounts):
        billed_account(operator, tariff, str(usage * 7))
    with CaptureQueriesContext(connection) as queries:
        billing_run(operator=operator, period=NOV, chunk_size=100)
    assert Invoice.objects.filter(operator=operator).count() == accounts
    return len(queries)


def test_a_chunk_takes_the_same_number_of_queries_whatever_its_size():
    small, large = operator_make(), operator_make()
    few = _queries_for_one_chunk(small, tariff_make(small, **WATER), 3)
    # 12 accounts keep every bulk INSERT under SQLite's 999 parameters (Django splits there).
    many = _queries_for_one_chunk(large, tariff_make(large, **WATER), 12)
    assert few == many
    assert InvoiceLine.objects.filter(invoice__operator=large).count() >= 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_bill_each_account_once_with_gap_free_numbers():
    operator = operator_make()
    tariff = tariff_make(operator, **WATER)
    for _ in range(12):
        billed_account(operator, tariff, "4")
    barrier = threading.Barrier(2)
    outcomes: list = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(billing_run(operator=operator, period=NOV, chunk_size=5))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(outcome, dict) for outcome in outcomes), outcomes
    assert sum(outcome["created"] for outcome in outcomes) == 12
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 13)]
    assert JournalTransaction.objects.count() == 12


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_bill_every_account_once_with_gap_free_numbers():
    operator = operator_make()
    tariff = tariff_make(operator, **WATER)
    accounts = [billed_account(operator, tariff, str(usage)) for usage in range(11)]
    summary = billing_run(operator=operator, period=NOV, chunk_size=3, workers=2)
    assert (summary["accounts"], summary["created"]) == (11, 11)
    assert set(Invoice.objects.values_list("account_id", flat=True)) == {a.pk for a in accounts}
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 12)]
    assert not MeterReading.objects.filter(invoice=None).exists()
    assert billing_run(operator=operator, period=NOV, chunk_size=3, workers=2)["created"] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_worker_stops_the_run_and_leaves_no_gap_in_the_numbers():
    operator = operator_make()
    tariff = tariff_make(operator, **WATER)
    accounts = [billed_account(operator, tariff, "2") for _ in range(12)]
    doomed = accounts[7].number  # its chunk (ids 7-9 of 12, three per chunk) fails
    real_post = billing_run_module.ledger_post_many

    def fail_one_chunk(**kwargs):
        codes = {p.account.code for j in kwargs["journals"] for p in j.postings}
        if f"receivable:{doomed}" in codes:
            raise RuntimeError("disk full")
        return real_post(**kwargs)

    with (
        mock.patch.object(billing_run_module, "ledger_post_many", fail_one_chunk),
        pytest.raises(RuntimeError),
    ):
        billing_run(operator=operator, period=NOV, chunk_size=3, workers=2)
    made = Invoice.objects.count()
    assert made < 12
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        f"INV-{n:06d}" for n in range(1, made + 1)
    ]
    assert billing_run(operator=operator, period=NOV, chunk_size=3, workers=2)["created"] == (
        12 - made
    )
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 13)]
