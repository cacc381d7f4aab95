"""The ledger and what it tells a customer: postings, balances, open invoices, statements."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import transaction

from billing.exceptions import DuplicatePosting, UnbalancedTransaction
from billing.ledger import (
    Posting,
    ledger_account_balance_minor,
    ledger_account_get,
    ledger_post,
    service_account_lock,
)
from billing.models import InvoiceKind, JournalTransaction, LedgerAccountKind, LedgerEntry
from billing.money import Money
from billing.selectors import (
    account_balance,
    account_last_invoice,
    account_open_invoices,
    account_statement,
)
from billing.services.credit_notes import credit_note_issue
from billing.services.payments import payment_record
from billing.services.penalties import penalty_charge
from tests.billing.factories import account_make, invoice_make, money

pytestmark = pytest.mark.django_db
Kind = LedgerAccountKind


@pytest.fixture
def account():
    return account_make()


def ledgers(account, currency="KES"):
    operator = account.operator
    return (
        ledger_account_get(
            operator=operator, kind=Kind.RECEIVABLE, currency=currency, service_account=account
        ),
        ledger_account_get(
            operator=operator, kind=Kind.CLEARING, currency=currency, detail="mpesa"
        ),
    )


def pay(account, amount, reference):
    return payment_record(
        account=account,
        amount=money(amount, account.operator.currency),
        source="mpesa",
        reference=reference,
        clearing="clearing:mpesa",
    )


@pytest.mark.parametrize(
    "amounts",
    [[100, -99], [100], [100, 0, -100], [50, 50]],
    ids=["unbalanced", "single entry", "zero entry", "all debits"],
)
def test_ledger_post_refuses_what_does_not_balance(account, amounts):
    receivable, clearing = ledgers(account)
    accounts = [receivable, clearing, clearing]
    postings = [Posting(ledger, amount) for ledger, amount in zip(accounts, amounts, strict=False)]

    with pytest.raises(UnbalancedTransaction):
        ledger_post(
            operator=account.operator,
            kind="adjustment",
            source_type="test",
            source_id=1,
            postings=postings,
        )
    assert not JournalTransaction.objects.exists()


def test_ledger_post_refuses_an_entry_in_another_currency_even_if_amounts_net_to_zero(account):
    receivable, _ = ledgers(account)
    _, clearing_xaf = ledgers(account, "XAF")

    with pytest.raises(UnbalancedTransaction):
        ledger_post(
            operator=account.operator,
            kind="adjustment",
            source_type="test",
            source_id=1,
            postings=[Posting(receivable, 100), Posting(clearing_xaf, -100)],
        )


def test_the_same_event_posts_once(account):
    receivable, clearing = ledgers(account)
    post = {
        "operator": account.operator,
        "kind": "adjustment",
        "source_type": "test",
        "source_id": 1,
        "postings": [Posting(receivable, 100), Posting(clearing, -100)],
    }
    ledger_post(**post)

    with pytest.raises(DuplicatePosting):
        ledger_post(**post)
    assert ledger_account_balance_minor(receivable) == 100


@pytest.mark.django_db(transaction=True)
def test_service_account_lock_must_run_in_a_transaction(account):
    with pytest.raises(RuntimeError):
        service_account_lock(account_id=account.pk)
    with transaction.atomic():
        assert service_account_lock(account_id=account.pk) == account


def test_balance_is_the_sum_of_receivable_and_credit_entries(account):
    invoice_make(account=account, net_minor=30_000, vat_minor=4_800)
    pay(account, "500.00", "R1")

    entries = LedgerEntry.objects.filter(account__service_account=account)
    assert sum(entries.values_list("amount_minor", flat=True)) == -15_200
    assert account_balance(account) == money("-152.00")


def test_open_invoices_oldest_first_and_the_last_invoice(account):
    invoice_make(account=account, net_minor=10_000)  # January
    february = invoice_make(account=account, net_minor=10_000)
    march = invoice_make(account=account, net_minor=10_000)
    fee = invoice_make(account=account, net_minor=500, kind=InvoiceKind.FEE)
    pay(account, "105.00", "R1")  # the fee, then January

    assert list(account_open_invoices(account)) == [february, march]
    assert account_last_invoice(account) == march
    assert fee not in account_open_invoices(account)


def test_no_last_invoice_for_a_new_account(account):
    assert account_last_invoice(account) is None
    assert account_statement(account) == []
    assert account_balance(account) == money("0.00")


@time_machine.travel(datetime(2026, 3, 5, 8, 0, tzinfo=UTC), tick=False)
def test_statement_lists_the_last_movements_with_a_running_balance(account):
    january = invoice_make(account=account, net_minor=100_000)
    pay(account, "400.00", "R1")
    penalty_charge(invoice=january, on_date=date(2026, 3, 1))  # 5 % of 600.00 = 30.00
    credit_note_issue(invoice=january, amount=money("100.00"), reason="leak", actor=None)
    pay(account, "800.00", "R2")  # 530.00 settles everything, 270.00 in credit
    invoice_make(account=account, net_minor=20_000)  # takes 200.00 of the credit

    lines = account_statement(account, limit=5)

    assert [(line.kind, line.amount.minor, line.balance.minor) for line in lines] == [
        ("payment", -40_000, 60_000),
        ("penalty", 3_000, 63_000),
        ("credit_note", -10_000, 53_000),
        ("payment", -80_000, -27_000),
        ("invoice", 20_000, -7_000),
    ]
    assert lines[-1].balance == account_balance(account)
    assert lines[0].description == "Payment mpesa R1"
    assert lines[-1].at == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


def test_xaf_worked_example_never_carries_a_fraction():
    # Cameroon: VAT 19.25 %. 23 m3 at XAF 443 = 10,189; VAT 1,961.38 -> 1,961 (half up);
    # total 12,150. Pay 5,000 -> 7,150 open; penalty 5 % of 7,150 = 357.5 -> 358;
    # credit note 1,000 -> 6,150 + 358 = 6,508 owed; pay 10,000 -> 3,492 in credit.
    account = account_make(currency="XAF")
    invoice = invoice_make(account=account, net_minor=10_189, vat_minor=1_961)
    pay(account, "5000", "MTN-1")
    penalty = penalty_charge(invoice=invoice, on_date=date(2026, 3, 1))
    credit_note_issue(invoice=invoice, amount=money("1000", "XAF"), reason="leak", actor=None)
    pay(account, "10000", "MTN-2")

    invoice.refresh_from_db()
    assert invoice.total_minor == 12_150
    assert penalty.total_minor == 358
    assert account_balance(account) == Money(-3_492, "XAF")
    assert account_balance(account).format() == "XAF -3,492"
    for line in account_statement(account, limit=20):
        assert line.amount.amount == line.amount.amount.to_integral_value()
        assert "." not in line.amount.format()
    with pytest.raises(ValueError, match="finer than"):
        money("10.5", "XAF")
