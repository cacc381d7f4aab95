"""Recording payments: allocation to invoices, customer credit, and exactly-once references."""

import pytest

from billing.exceptions import CurrencyNotAccepted
from billing.ledger import ledger_account_balance_minor
from billing.models import (
    Allocation,
    InvoiceKind,
    InvoiceStatus,
    JournalTransaction,
    LedgerAccount,
    LedgerEntry,
    Payment,
)
from billing.money import Money
from billing.selectors import account_balance
from billing.services.payments import (
    InvalidAllocationOrder,
    InvalidPayment,
    PaymentReferenceConflict,
    allocation_order_parse,
    customer_credit_apply,
    payment_record,
)
from tests.billing.factories import account_make, invoice_make, money, service_account_make

pytestmark = pytest.mark.django_db


def pay(account, amount: str, reference: str = "QK1", **kwargs):
    kwargs.setdefault("source", "mpesa")
    kwargs.setdefault("clearing", "clearing:mpesa")
    return payment_record(
        account=account,
        amount=money(amount, account.operator.currency),
        reference=reference,
        **kwargs,
    )


def ledger_balance(account, kind: str) -> int:
    return sum(
        ledger_account_balance_minor(ledger)
        for ledger in LedgerAccount.objects.filter(service_account=account, kind=kind)
    )


def refreshed(*invoices):
    for invoice in invoices:
        invoice.refresh_from_db()
    return invoices


@pytest.fixture
def account():
    return account_make()


def test_partial_payment_leaves_the_invoice_partially_paid(account):
    invoice = invoice_make(account=account, net_minor=100_000, vat_minor=16_000)

    pay(account, "500.00")

    (invoice,) = refreshed(invoice)
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert invoice.paid_minor == 50_000
    assert invoice.open_minor == 66_000
    assert account_balance(account) == money("660.00")


def test_full_payment_marks_the_invoice_paid(account):
    invoice = invoice_make(account=account, net_minor=100_000, vat_minor=16_000)

    pay(account, "1160.00")

    (invoice,) = refreshed(invoice)
    assert invoice.status == InvoiceStatus.PAID
    assert account_balance(account) == money("0.00")


def test_payment_posts_clearing_against_receivable_and_credit(account):
    invoice_make(account=account, net_minor=10_000)

    payment = pay(account, "150.00")

    journal = JournalTransaction.objects.get(source_type="payment", source_id=str(payment.pk))
    entries = {e.account.code: e.amount_minor for e in journal.entries.select_related("account")}
    assert entries == {
        "clearing:mpesa": 15_000,
        f"receivable:{account.number}": -10_000,
        f"customer_credit:{account.number}": -5_000,
    }


def test_cash_payment_debits_the_agents_cash_account(account):
    pay(account, "20.00", source="cash", clearing="cash:agent:7")

    assert LedgerEntry.objects.get(account__code="cash:agent:7").amount_minor == 2_000


def test_overpayment_becomes_credit_that_the_next_invoice_consumes(account):
    first = invoice_make(account=account, net_minor=10_000)
    payment = pay(account, "250.00")
    assert account_balance(account) == money("-150.00")
    assert ledger_balance(account, "customer_credit") == -15_000

    second = invoice_make(account=account, net_minor=20_000)  # applies credit, as issuing does

    first, second = refreshed(first, second)
    assert first.status == InvoiceStatus.PAID
    assert second.status == InvoiceStatus.PARTIALLY_PAID
    assert second.paid_minor == 15_000
    assert ledger_balance(account, "customer_credit") == 0
    assert account_balance(account) == money("50.00")
    assert sum(payment.allocations.values_list("amount_minor", flat=True)) == 25_000
    assert JournalTransaction.objects.filter(kind="credit_applied").count() == 1


def test_applying_credit_again_applies_nothing(account):
    pay(account, "100.00")
    invoice_make(account=account, net_minor=30_000, apply_credit=False)

    assert customer_credit_apply(account=account) == 10_000
    assert customer_credit_apply(account=account) == 0
    assert JournalTransaction.objects.filter(kind="credit_applied").count() == 1


def test_default_order_settles_charges_then_oldest_then_current(account):
    january = invoice_make(account=account, net_minor=10_000)
    february = invoice_make(account=account, net_minor=10_000)
    fee = invoice_make(account=account, net_minor=5_000, kind=InvoiceKind.FEE)

    pay(account, "120.00")

    fee, january, february = refreshed(fee, january, february)
    assert (fee.paid_minor, january.paid_minor, february.paid_minor) == (5_000, 7_000, 0)


def test_allocation_order_comes_from_the_operator(account):
    account.operator.allocation_order = "current,oldest"
    account.operator.save()
    january = invoice_make(account=account, net_minor=10_000)
    february = invoice_make(account=account, net_minor=10_000)
    fee = invoice_make(account=account, net_minor=5_000, kind=InvoiceKind.FEE)

    pay(account, "180.00")

    fee, january, february = refreshed(fee, january, february)
    assert (february.paid_minor, january.paid_minor, fee.paid_minor) == (10_000, 8_000, 0)


def test_allocation_order_parsing_fills_in_missing_buckets_and_refuses_unknown_ones():
    assert allocation_order_parse("oldest") == ("oldest", "charges", "current")
    assert allocation_order_parse(" current , charges,current") == (
        "current",
        "charges",
        "oldest",
    )
    with pytest.raises(InvalidAllocationOrder):
        allocation_order_parse("charges,newest")


def test_replayed_reference_returns_the_same_payment_and_posts_nothing(account):
    invoice_make(account=account, net_minor=10_000)
    first = pay(account, "40.00", reference="RB12XYZ")
    counts = (LedgerEntry.objects.count(), Allocation.objects.count(), Payment.objects.count())

    again = pay(account, "40.00", reference="RB12XYZ")

    assert again.pk == first.pk
    assert (
        LedgerEntry.objects.count(),
        Allocation.objects.count(),
        Payment.objects.count(),
    ) == counts
    assert account_balance(account) == money("60.00")


def test_replayed_reference_with_another_amount_is_a_conflict(account):
    pay(account, "40.00", reference="RB12XYZ")

    with pytest.raises(PaymentReferenceConflict) as raised:
        pay(account, "41.00", reference="RB12XYZ")

    assert raised.value.code == "payment_reference_conflict"
    assert Payment.objects.count() == 1


def test_same_reference_for_another_account_is_a_conflict(account):
    other = service_account_make(operator=account.operator)
    pay(account, "40.00", reference="RB12XYZ")

    with pytest.raises(PaymentReferenceConflict):
        pay(other, "40.00", reference="RB12XYZ")


def test_same_reference_from_another_source_is_another_payment(account):
    pay(account, "40.00", reference="777")
    pay(account, "40.00", reference="777", source="airtel", clearing="clearing:airtel")

    assert Payment.objects.count() == 2
    assert account_balance(account) == money("-80.00")


def test_payment_in_another_currency_is_refused(account):
    with pytest.raises(CurrencyNotAccepted):
        payment_record(
            account=account,
            amount=Money(5_000, "XAF"),
            source="mtn",
            reference="X1",
            clearing="clearing:mtn",
        )
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("amount", "reference", "source"),
    [
        ("0.00", "R1", "mpesa"),
        ("5.00", " ", "mpesa"),
        ("5.00", "R1", ""),
        ("5.00", "R" * 65, "mpesa"),
    ],
)
def test_invalid_payment_is_refused_with_a_clear_code(account, amount, reference, source):
    with pytest.raises(InvalidPayment) as raised:
        pay(account, amount, reference=reference, source=source)
    assert raised.value.code == "invalid_payment"
    assert not Payment.objects.exists()


def test_payment_cannot_be_taken_into_a_revenue_account(account):
    with pytest.raises(ValueError, match="cannot take a payment"):
        pay(account, "5.00", clearing="revenue:water")
