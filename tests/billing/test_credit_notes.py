"""Credit notes lower what an invoice asks for, never below zero, with VAT given back in step."""

from datetime import date

import pytest

from accounts.models import AuditEvent
from billing.exceptions import CurrencyNotAccepted
from billing.models import CreditNote, InvoiceStatus, JournalTransaction
from billing.money import Money
from billing.selectors import account_balance
from billing.services.credit_notes import (
    CreditNoteExceedsOpen,
    InvalidCreditNote,
    InvoiceNotCreditable,
    credit_note_issue,
)
from billing.services.payments import payment_record
from billing.services.penalties import penalty_charge
from tests.billing.factories import account_make, customer_make, invoice_make, money

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return account_make()


@pytest.fixture
def manager():
    return customer_make(name="Moses Manager")


def entries_by_code(note) -> dict[str, int]:
    journal = JournalTransaction.objects.get(source_type="credit_note", source_id=str(note.pk))
    return {e.account.code: e.amount_minor for e in journal.entries.select_related("account")}


def test_credit_note_lowers_the_open_amount_and_the_balance(account, manager):
    invoice = invoice_make(account=account, net_minor=100_000, vat_minor=16_000)

    note = credit_note_issue(
        invoice=invoice, amount=money("290.00"), reason="meter misread", actor=manager
    )

    invoice.refresh_from_db()
    assert note.number == "CN-000001"
    assert invoice.credited_minor == 29_000
    assert invoice.open_minor == 87_000
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert account_balance(account) == money("870.00")


def test_credit_note_gives_back_vat_in_the_invoices_proportion(account, manager):
    # 1,000.00 + 160.00 VAT = 1,160.00; crediting 290.00 = a quarter: 250.00 revenue + 40.00 VAT.
    invoice = invoice_make(account=account, net_minor=100_000, vat_minor=16_000)

    note = credit_note_issue(invoice=invoice, amount=money("290.00"), reason="x", actor=manager)

    assert entries_by_code(note) == {
        "revenue:water": 25_000,
        "vat_payable": 4_000,
        f"receivable:{account.number}": -29_000,
    }


def test_credit_notes_that_cancel_an_invoice_give_back_exactly_its_vat(account, manager):
    # 0.02 + 0.01 VAT, credited 0.01 at a time. Rounding each note's VAT on its own gives
    # round(1/3) = 0 three times; on the running total it is 0, then 1 (2/3), then 0 (3/3).
    invoice = invoice_make(account=account, net_minor=2, vat_minor=1)

    notes = [
        credit_note_issue(invoice=invoice, amount=Money(1, "KES"), reason="x", actor=manager)
        for _ in range(3)
    ]

    vat = [entries_by_code(note).get("vat_payable", 0) for note in notes]
    revenue = [entries_by_code(note).get("revenue:water", 0) for note in notes]
    assert (vat, revenue) == ([0, 1, 0], [1, 0, 1])
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.open_minor == 0


def test_credit_note_cannot_exceed_what_is_still_open(account, manager):
    invoice = invoice_make(account=account, net_minor=10_000)
    payment_record(
        account=account,
        amount=money("60.00"),
        source="mpesa",
        reference="R1",
        clearing="clearing:mpesa",
    )

    with pytest.raises(CreditNoteExceedsOpen) as raised:
        credit_note_issue(invoice=invoice, amount=money("40.01"), reason="x", actor=manager)

    assert raised.value.code == "credit_note_exceeds_open"
    assert raised.value.extra == {"open": "KES 40.00"}
    assert not CreditNote.objects.exists()
    # The failed attempt took no number: the next credit note is still the first.
    note = credit_note_issue(invoice=invoice, amount=money("40.00"), reason="x", actor=manager)
    assert note.number == "CN-000001"


def test_credit_note_on_a_penalty_gives_back_penalty_income(account, manager):
    overdue = invoice_make(account=account, net_minor=10_000)
    penalty = penalty_charge(invoice=overdue, on_date=date(2026, 3, 1))

    note = credit_note_issue(invoice=penalty, amount=money("5.00"), reason="waived", actor=manager)

    assert entries_by_code(note) == {
        "penalty_income": 500,
        f"receivable:{account.number}": -500,
    }


def test_credit_note_needs_a_positive_amount_and_a_reason(account, manager):
    invoice = invoice_make(account=account, net_minor=10_000)

    for amount, reason in [("0.00", "x"), ("-1.00", "x"), ("1.00", "  ")]:
        with pytest.raises(InvalidCreditNote):
            credit_note_issue(invoice=invoice, amount=money(amount), reason=reason, actor=manager)


def test_credit_note_in_another_currency_is_refused(account, manager):
    invoice = invoice_make(account=account, net_minor=10_000)

    with pytest.raises(CurrencyNotAccepted):
        credit_note_issue(invoice=invoice, amount=Money(100, "XAF"), reason="x", actor=manager)


def test_cancelled_invoice_cannot_be_credited(account, manager):
    invoice = invoice_make(account=account, net_minor=10_000)
    invoice.status = InvoiceStatus.CANCELLED
    invoice.save()

    with pytest.raises(InvoiceNotCreditable):
        credit_note_issue(invoice=invoice, amount=money("1.00"), reason="x", actor=manager)


def test_credit_note_is_in_the_audit_trail(account, manager):
    invoice = invoice_make(account=account, net_minor=10_000)

    note = credit_note_issue(
        invoice=invoice, amount=money("1.00"), reason="goodwill", actor=manager
    )

    event = AuditEvent.objects.get(action="credit_note.issue")
    assert (event.actor, event.object_id) == (manager, str(note.pk))
    assert event.after["reason"] == "goodwill"
