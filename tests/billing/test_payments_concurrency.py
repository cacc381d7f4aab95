"""Payments for one account arriving at the same moment, from real threads on PostgreSQL."""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum

from billing.models import Allocation, InvoiceStatus, JournalTransaction, Payment
from billing.selectors import account_balance
from billing.services.payments import PaymentReferenceConflict, payment_record
from tests.billing.factories import account_make, invoice_make, money, service_account_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 8


def run_together(calls_per_thread):
    """Run each thread's calls after all threads are ready; return results and errors."""
    barrier = threading.Barrier(len(calls_per_thread))
    outcomes: list[tuple[str, object]] = []

    def work(calls):
        try:
            barrier.wait()
            for call in calls:
                try:
                    outcomes.append(("ok", call()))
                except PaymentReferenceConflict as exc:
                    outcomes.append(("conflict", exc))
                except Exception as exc:  # noqa: BLE001 - any other error fails the test below
                    outcomes.append(("error", exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(calls,)) for calls in calls_per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def pay(account, reference):
    return lambda: payment_record(
        account=account,
        amount=money("25.00"),
        source="mpesa",
        reference=reference,
        clearing="clearing:mpesa",
    )


def test_concurrent_payments_land_once_each_and_allocate_without_lost_updates():
    account = account_make()
    invoices = [invoice_make(account=account, net_minor=10_000) for _ in range(3)]  # 300.00
    # Every thread starts with the same two references, then sends two of its own:
    # 8 x 4 = 32 calls, 2 + 16 = 18 distinct payments of 25.00 = 450.00.
    calls = [
        [
            pay(account, "DUP-A"),
            pay(account, f"T{i}-1"),
            pay(account, "DUP-B"),
            pay(account, f"T{i}-2"),
        ]
        for i in range(THREADS)
    ]

    outcomes = run_together(calls)

    assert [kind for kind, _ in outcomes] == ["ok"] * 32
    payments = Counter(payment.reference for _, payment in outcomes)
    assert payments["DUP-A"] == payments["DUP-B"] == THREADS
    assert Payment.objects.count() == 18
    assert JournalTransaction.objects.filter(kind="payment").count() == 18
    for invoice in invoices:
        invoice.refresh_from_db()
        allocated = Allocation.objects.filter(invoice=invoice).aggregate(s=Sum("amount_minor"))
        assert invoice.paid_minor == allocated["s"] == 10_000
        assert invoice.status == InvoiceStatus.PAID
    for payment in Payment.objects.all():
        allocated = payment.allocations.aggregate(s=Sum("amount_minor"))["s"] or 0
        assert 0 <= allocated <= payment.amount_minor
    assert account_balance(account) == money("-150.00")


def test_one_reference_raced_for_two_accounts_is_recorded_once():
    first = account_make()
    second = service_account_make(operator=first.operator)
    calls = [[pay(first if i % 2 else second, "SAME-REF")] for i in range(THREADS)]

    outcomes = run_together(calls)

    (payment,) = Payment.objects.all()
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": THREADS // 2, "conflict": THREADS // 2}
    assert all(result.pk == payment.pk for kind, result in outcomes if kind == "ok")
    loser = second if payment.account_id == first.pk else first
    assert account_balance(loser) == money("0.00")
    assert JournalTransaction.objects.filter(kind="payment").count() == 1
