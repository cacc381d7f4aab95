"""Issuing one invoice: number, dates, lines, ledger, readings, credit; once; corrections."""

import threading
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection

from billing.ledger import ledger_account_balance_minor
from billing.models import (
    CreditNote,
    DocumentSequence,
    Invoice,
    InvoiceStatus,
    JournalTransaction,
    LedgerAccount,
    MeterReading,
)
from billing.money import Money
from billing.selectors import account_balance
from billing.services.invoices import (
    InvoiceNotReissuable,
    InvoiceTotalNegative,
    invoice_issue,
    invoice_reissue,
)
from billing.services.payments import payment_record
from billing.tariffs import PriceIndexMissing
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
# 22:30 in UTC on 1 December is already 2 December in Nairobi (UTC+3).
LATE_EVENING_UTC = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
WATER = {"standing_charge": 150, "service_fee": 50, "vat_rate": "0.16"}


def balance_of(operator, code: str) -> int:
    return ledger_account_balance_minor(LedgerAccount.objects.get(operator=operator, code=code))


@pytest.fixture
def kes():
    operator = operator_make(currency="KES", invoice_due_days=14)
    return operator, tariff_make(operator, **WATER)


@time_machine.travel(LATE_EVENING_UTC, tick=False)
def test_invoice_bills_the_period_and_posts_receivable_revenue_and_vat(kes):
    operator, tariff = kes
    account = billed_account(operator, tariff, "42")
    invoice = invoice_issue(account=account, period=date(2026, 11, 17))
    # 15.00 + 40.00 + 30.00 + 150.00 + 50.00 = 285.00; VAT 45.60; total 330.60.
    assert (invoice.number, invoice.status, invoice.total_minor) == ("INV-000001", "issued", 33060)
    assert (invoice.period, invoice.period_start, invoice.period_end) == (
        NOV,
        NOV,
        date(2026, 11, 30),
    )
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 12, 2), date(2026, 12, 16))
    assert (invoice.consumption, invoice.is_estimated) == (D(42), False)
    assert [(line.position, line.kind, line.amount_minor) for line in invoice.lines.all()] == [
        (1, "tier", 1500),
        (2, "tier", 4000),
        (3, "tier", 3000),
        (4, "standing", 15000),
        (5, "service_fee", 5000),
        (6, "vat", 4560),
    ]
    assert balance_of(operator, f"receivable:{account.number}") == 33060
    assert balance_of(operator, "revenue:water") == -28500
    assert balance_of(operator, "vat_payable") == -4560
    assert MeterReading.objects.get(meter__account=account).invoice == invoice
    assert account_balance(account) == Money(33060, "KES")


def test_issuing_twice_gives_one_invoice_one_posting_and_one_number(kes):
    operator, tariff = kes
    account = billed_account(operator, tariff, "42")
    first = invoice_issue(account=account, period=NOV)
    again = invoice_issue(account=account, period=date(2026, 11, 30))
    assert again.pk == first.pk
    assert Invoice.objects.count() == 1
    assert JournalTransaction.objects.count() == 1
    assert DocumentSequence.objects.get(operator=operator, kind="invoice").next_number == 2


def test_customer_credit_is_applied_to_the_new_invoice(kes):
    operator, tariff = kes
    account = billed_account(operator, tariff, "42")
    payment_record(
        account=account,
        amount=Money.of("500", "KES"),
        source="mpesa",
        reference="QK1",
        clearing="clearing:mpesa",
    )
    invoice = invoice_issue(account=account, period=NOV)
    assert (invoice.status, invoice.paid_minor) == (InvoiceStatus.PAID, 33060)
    assert account_balance(account) == Money.of("-169.40", "KES")


def test_xaf_invoice_amounts_are_whole_francs():
    operator = operator_make(currency="XAF", timezone="Africa/Douala")
    tariff = tariff_make(
        operator,
        tiers=((10, 250), (30, 300), (None, 400)),
        standing_charge=1000,
        vat_rate="0.1925",
    )
    invoice = invoice_issue(account=billed_account(operator, tariff, "17.5"), period=NOV)
    # 2500 + 2250 + 1000 = 5750; VAT 1106.875 -> 1107; total 6857.
    assert [line.amount_minor for line in invoice.lines.all()] == [2500, 2250, 1000, 1107]
    assert invoice.total_minor == 6857
    assert balance_of(operator, f"receivable:{invoice.account.number}") == 6857


def test_zero_total_invoice_is_paid_and_posts_nothing():
    operator = operator_make()
    tariff = tariff_make(operator, pricing="flat", unit_price="1.00")
    invoice = invoice_issue(account=billed_account(operator, tariff, "0"), period=NOV)
    assert (invoice.total_minor, invoice.status) == (0, InvoiceStatus.PAID)
    assert not JournalTransaction.objects.exists()


def test_missing_index_value_issues_nothing_and_skips_no_number():
    operator = operator_make()
    index = price_index_make(operator, month=date(2026, 10, 1))
    indexed = tariff_make(operator, utility="electricity", pricing="indexed", price_index=index)
    with pytest.raises(PriceIndexMissing):
        invoice_issue(account=billed_account(operator, indexed, "10"), period=NOV)
    assert not Invoice.objects.exists()
    assert not MeterReading.objects.filter(invoice__isnull=False).exists()
    flat = tariff_make(operator, pricing="flat", unit_price="2")
    assert invoice_issue(account=billed_account(operator, flat, "1"), period=NOV).number == (
        "INV-000001"
    )


def test_negative_total_from_an_estimate_correction_is_refused():
    operator = operator_make()
    tariff = tariff_make(operator, pricing="flat", unit_price="10")
    account = account_make(operator, tariff)
    MeterReading.objects.filter(pk=meter_with_usage(account, "0").pk).update(consumption=-5)
    with pytest.raises(InvoiceTotalNegative):
        invoice_issue(account=account, period=NOV)
    assert not Invoice.objects.exists()


def test_reissue_credits_the_original_and_bills_its_readings_at_the_right_tariff(kes):
    operator, wrong = kes
    account = billed_account(operator, wrong, "42")
    original = invoice_issue(account=account, period=NOV)
    account.tariff = tariff_make(operator, pricing="flat", unit_price="3.00")
    account.save()
    replacement = invoice_reissue(original=original, actor=None, reason="Wrong tariff")
    assert (replacement.number, replacement.replaces, replacement.total_minor) == (
        "INV-000002",
        original,
        12600,
    )
    assert CreditNote.objects.get(invoice=original).amount_minor == 33060
    original.refresh_from_db()
    assert original.status == InvoiceStatus.CANCELLED
    assert MeterReading.objects.get(meter__account=account).invoice == replacement
    assert account_balance(account) == Money(12600, "KES")
    assert invoice_issue(account=account, period=NOV) == replacement
    assert invoice_reissue(original=original, actor=None) == replacement
    assert CreditNote.objects.count() == 1


def test_reissue_refuses_an_invoice_with_payments_on_it(kes):
    operator, tariff = kes
    account = billed_account(operator, tariff, "42")
    invoice = invoice_issue(account=account, period=NOV)
    payment_record(
        account=account,
        amount=Money.of("100", "KES"),
        source="mpesa",
        reference="QK2",
        clearing="clearing:mpesa",
    )
    with pytest.raises(InvoiceNotReissuable):
        invoice_reissue(original=invoice, actor=None)
    assert not CreditNote.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_for_one_account_make_one_invoice():
    operator = operator_make()
    account = billed_account(operator, tariff_make(operator, **WATER), "42")
    barrier = threading.Barrier(4)
    results: list = []

    def issue() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(invoice_issue(account=account, period=NOV).pk)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(set(results)) == 1 and isinstance(results[0], int)
    assert Invoice.objects.count() == 1
    assert JournalTransaction.objects.count() == 1
