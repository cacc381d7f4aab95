"""A random walk through invoices, payments (some replayed), credit notes, penalties and reversals.

After every step the books must hold: every journal balances, each balance is the sum of its
entries and matches what the steps should have produced, no invoice is allocated past its
total, no payment past its amount, and no overpaid money goes missing. Each example runs in a
savepoint rolled back at its end, so the walk needs no transactional database.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from billing.ledger import ledger_account_balance_minor
from billing.models import (
    Allocation,
    CreditNote,
    Invoice,
    InvoiceStatus,
    JournalTransaction,
    LedgerAccount,
    LedgerEntry,
    Payment,
)
from billing.money import Money
from billing.selectors import account_balance, account_open_invoices
from billing.services.credit_notes import CreditNoteExceedsOpen, credit_note_issue
from billing.services.payments import (
    PaymentReferenceConflict,
    payment_record,
    payment_reverse,
)
from billing.services.penalties import penalty_charge
from tests.billing.factories import account_make, invoice_make

pytestmark = pytest.mark.django_db


class LedgerMachine(RuleBasedStateMachine):
    invoices = Bundle("invoices")
    payments = Bundle("payments")

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.account = account_make(currency="KES")
        self.owed = 0  # what the customer should owe, from the steps alone
        self.amounts: dict[str, int] = {}  # payment reference -> amount

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # --- steps --------------------------------------------------------------------------
    @rule(target=invoices, net=st.integers(1, 50_000), with_vat=st.booleans())
    def issue_invoice(self, net, with_vat):
        vat = net * 16 // 100 if with_vat else 0
        invoice = invoice_make(account=self.account, net_minor=net, vat_minor=vat)
        self.owed += net + vat
        return invoice.pk

    @rule(target=payments, amount=st.integers(1, 60_000))
    def record_payment(self, amount):
        reference = f"QX{len(self.amounts)}"
        self._pay(reference, amount)
        self.amounts[reference] = amount
        self.owed -= amount
        return reference

    @rule(reference=payments)
    def replay_payment(self, reference):
        before = self._snapshot()
        payment = self._pay(reference, self.amounts[reference])
        assert payment.reference == reference
        assert self._snapshot() == before

    @rule(reference=payments, extra=st.integers(1, 1_000))
    def replay_payment_with_another_amount(self, reference, extra):
        before = self._snapshot()
        try:
            self._pay(reference, self.amounts[reference] + extra)
        except PaymentReferenceConflict:
            pass
        else:
            raise AssertionError("a changed amount under a known reference was accepted")
        assert self._snapshot() == before

    @rule(invoice_id=invoices, percent=st.integers(1, 120))
    def issue_credit_note(self, invoice_id, percent):
        invoice = Invoice.objects.get(pk=invoice_id)
        amount = max(1, invoice.total_minor * percent // 100)
        before = self._snapshot()
        try:
            credit_note_issue(
                invoice=invoice, amount=Money(amount, "KES"), reason="state machine", actor=None
            )
        except CreditNoteExceedsOpen:
            assert amount > invoice.open_minor
            assert self._snapshot() == before
        else:
            assert amount <= invoice.open_minor
            self.owed -= amount

    @rule(target=invoices, invoice_id=invoices, days_late=st.integers(1, 60))
    def charge_penalty(self, invoice_id, days_late):
        invoice = Invoice.objects.get(pk=invoice_id)
        penalty = penalty_charge(
            invoice=invoice, on_date=invoice.due_date + timedelta(days=days_late)
        )
        if penalty is None:
            return multiple()
        self.owed += penalty.total_minor
        return multiple(penalty.pk)

    @rule(reference=payments)
    def reverse_payment(self, reference):
        payment = Payment.objects.get(source="mpesa", reference=reference)
        already = payment.reversed_at is not None
        payment_reverse(payment=payment, reason="state machine", actor=None)
        if not already:
            self.owed += self.amounts[reference]

    def _pay(self, reference, amount):
        return payment_record(
            account=self.account,
            amount=Money(amount, "KES"),
            source="mpesa",
            reference=reference,
            clearing="clearing:mpesa",
        )

    def _snapshot(self):
        invoices = Invoice.objects.order_by("pk").values_list(
            "pk", "status", "paid_minor", "credited_minor"
        )
        counts = [m.objects.count() for m in (LedgerEntry, Allocation, Payment, CreditNote)]
        return counts, list(invoices), account_balance(self.account)

    # --- invariants ---------------------------------------------------------------------
    @invariant()
    def the_books_hold(self):
        books = Books.load()
        check_every_journal_balances(books)
        check_balances_are_sums_of_entries(books, self.account, self.owed)
        check_no_invoice_is_settled_past_its_total(books)
        check_allocations_never_exceed_the_payment(books)
        if books.unallocated():  # an overpayment waits as credit only while nothing is open
            assert not account_open_invoices(self.account).exists()


@dataclass
class Books:
    """Everything the invariants look at, read in a handful of queries."""

    entries: list[tuple[int, int, str, int]]  # journal, ledger account, currency, amount
    journal_ids: list[int]
    ledgers: list[tuple[int, str, int | None]]  # id, kind, service account
    invoices: list[tuple[int, str, int, int, int]]  # id, status, total, paid, credited
    allocations: list[tuple[int, int, int]]  # payment, invoice, amount
    payments: list[tuple[int, int, bool]]  # id, amount, reversed
    credit_notes: list[tuple[int, int]]  # invoice, amount

    @classmethod
    def load(cls) -> "Books":
        return cls(
            entries=list(
                LedgerEntry.objects.values_list(
                    "journal_id", "account_id", "currency", "amount_minor"
                )
            ),
            journal_ids=list(JournalTransaction.objects.values_list("pk", flat=True)),
            ledgers=list(LedgerAccount.objects.values_list("pk", "kind", "service_account_id")),
            invoices=list(
                Invoice.objects.values_list(
                    "pk", "status", "total_minor", "paid_minor", "credited_minor"
                )
            ),
            allocations=list(
                Allocation.objects.values_list("payment_id", "invoice_id", "amount_minor")
            ),
            payments=[
                (pk, amount, reversed_at is not None)
                for pk, amount, reversed_at in Payment.objects.values_list(
                    "pk", "amount_minor", "reversed_at"
                )
            ],
            credit_notes=list(CreditNote.objects.values_list("invoice_id", "amount_minor")),
        )

    def allocated_by(self, index: int) -> dict[int, int]:
        sums = defaultdict(int)
        for allocation in self.allocations:
            sums[allocation[index]] += allocation[2]
        return sums

    def unallocated(self) -> int:
        allocated = self.allocated_by(0)
        return sum(
            amount - allocated[pk] for pk, amount, reversed_ in self.payments if not reversed_
        )


def check_every_journal_balances(books: Books) -> None:
    per_journal = defaultdict(int)
    entry_count = defaultdict(int)
    per_currency = defaultdict(int)
    for journal_id, _, currency, amount in books.entries:
        per_journal[journal_id, currency] += amount
        entry_count[journal_id] += 1
        per_currency[currency] += amount
    assert not [key for key, total in per_journal.items() if total], "unbalanced journal"
    assert all(entry_count[pk] >= 2 for pk in books.journal_ids), "journal with < 2 entries"
    assert not [c for c, total in per_currency.items() if total], "a currency does not sum to 0"


def check_balances_are_sums_of_entries(books: Books, account, owed: int) -> None:
    per_ledger = defaultdict(int)
    for _, ledger_id, _, amount in books.entries:
        per_ledger[ledger_id] += amount
    by_kind = defaultdict(int)
    for ledger in LedgerAccount.objects.filter(service_account=account):
        assert ledger_account_balance_minor(ledger) == per_ledger[ledger.pk]
        by_kind[ledger.kind] += per_ledger[ledger.pk]
    balance = account_balance(account).minor
    assert balance == by_kind["receivable"] + by_kind["customer_credit"] == owed
    open_total = sum(total - paid - credited for _, _, total, paid, credited in books.invoices)
    assert by_kind["receivable"] == open_total
    assert by_kind["customer_credit"] == -books.unallocated()


def check_no_invoice_is_settled_past_its_total(books: Books) -> None:
    allocated = books.allocated_by(1)
    credited = defaultdict(int)
    for invoice_id, amount in books.credit_notes:
        credited[invoice_id] += amount
    for pk, status, total, paid, credited_minor in books.invoices:
        assert paid == allocated[pk]
        assert credited_minor == credited[pk]
        assert 0 <= paid + credited_minor <= total
        assert (status == InvoiceStatus.PAID) == (paid + credited_minor == total)


def check_allocations_never_exceed_the_payment(books: Books) -> None:
    allocated = books.allocated_by(0)
    for pk, amount, reversed_ in books.payments:
        assert 0 <= allocated[pk] <= amount
        assert not reversed_ or allocated[pk] == 0


def test_ledger_invariants_hold_through_any_sequence_of_billing_events():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
