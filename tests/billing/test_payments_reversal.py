"""Reversing a payment: the ledger, the invoices and the customer's credit as if it never came."""

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.models import AuditEvent
from billing.models import Allocation, InvoiceStatus, JournalKind, JournalTransaction
from billing.selectors import account_balance
from billing.services.payments import payment_record, payment_reverse
from tests.billing.factories import account_make, invoice_make, money

pytestmark = pytest.mark.django_db

# The factories' first invoices fall due in February 2026; reversals happen before that.
BEFORE_DUE = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)


def pay(account, amount: str, reference: str):
    return payment_record(
        account=account,
        amount=money(amount),
        source="mpesa",
        reference=reference,
        clearing="clearing:mpesa",
    )


def entries_by_code(journal) -> dict[str, int]:
    return {e.account.code: e.amount_minor for e in journal.entries.select_related("account")}


@pytest.fixture
def account():
    return account_make()


@time_machine.travel(BEFORE_DUE, tick=False)
def test_reversal_reopens_the_invoice_and_restores_the_balance(account):
    invoice = invoice_make(account=account, net_minor=10_000, vat_minor=1_600)
    payment = pay(account, "116.00", "QA1")

    payment_reverse(payment=payment, reason="charged back by operator")

    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED
    assert invoice.paid_minor == 0
    assert payment.reversed_at == BEFORE_DUE
    assert account_balance(account) == money("116.00")
    assert sum(payment.allocations.values_list("amount_minor", flat=True)) == 0


def test_reversal_journal_negates_the_payment_journal(account):
    invoice_make(account=account, net_minor=10_000)
    payment = pay(account, "150.00", "QA1")
    original = JournalTransaction.objects.get(source_type="payment", source_id=str(payment.pk))

    payment_reverse(payment=payment, reason="duplicate transfer")

    reversal = JournalTransaction.objects.get(kind=JournalKind.REVERSAL)
    assert reversal.reverses == original
    assert (reversal.source_type, reversal.source_id) == ("reversal", str(original.pk))
    negated = {code: -amount for code, amount in entries_by_code(original).items()}
    assert entries_by_code(reversal) == negated
    assert "duplicate transfer" in reversal.memo


def test_reversing_twice_changes_nothing_the_second_time(account):
    payment = pay(account, "50.00", "QA1")
    first_reversed_at = payment_reverse(payment=payment, reason="wrong account").reversed_at
    allocations = Allocation.objects.count()

    again = payment_reverse(payment=payment, reason="wrong account")

    assert first_reversed_at is not None
    assert again.reversed_at == first_reversed_at
    assert JournalTransaction.objects.filter(kind=JournalKind.REVERSAL).count() == 1
    assert Allocation.objects.count() == allocations
    assert account_balance(account) == money("0.00")


@time_machine.travel(BEFORE_DUE, tick=False)
def test_reversal_takes_back_credit_already_applied_to_a_later_invoice(account):
    first = invoice_make(account=account, net_minor=10_000)
    payment = pay(account, "300.00", "QA1")
    second = invoice_make(account=account, net_minor=10_000)  # consumes 100.00 of the credit

    payment_reverse(payment=payment, reason="reversed by the bank")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (InvoiceStatus.ISSUED, InvoiceStatus.ISSUED)
    assert account_balance(account) == money("200.00")
    reversal = JournalTransaction.objects.get(kind=JournalKind.REVERSAL)
    assert entries_by_code(reversal) == {
        "clearing:mpesa": -30_000,
        f"receivable:{account.number}": 20_000,
        f"customer_credit:{account.number}": 10_000,
    }


@time_machine.travel(BEFORE_DUE, tick=False)
def test_other_payments_credit_settles_the_reopened_invoice(account):
    invoice = invoice_make(account=account, net_minor=10_000)
    first = pay(account, "100.00", "QA1")
    pay(account, "60.00", "QA2")  # all credit: nothing is open

    payment_reverse(payment=first, reason="charged back")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert invoice.paid_minor == 6_000
    assert account_balance(account) == money("40.00")


@time_machine.travel(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), tick=False)
def test_reopened_invoice_past_its_due_date_is_overdue(account):
    invoice = invoice_make(account=account, net_minor=10_000)  # due 2026-02-15
    payment = pay(account, "100.00", "QA1")

    payment_reverse(payment=payment, reason="charged back")

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE


def test_reversal_is_in_the_audit_trail_with_its_reason(account):
    payment = pay(account, "50.00", "QA1")

    payment_reverse(payment=payment, reason="customer paid the wrong account")

    event = AuditEvent.objects.get(action="payment.reverse")
    assert event.object_id == str(payment.pk)
    assert event.after == {"reason": "customer paid the wrong account"}
