"""Late-payment penalties: hand-computed amounts, charged once per overdue invoice."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JournalTransaction,
    LineKind,
    TariffVersion,
)
from billing.selectors import account_balance
from billing.services.payments import payment_record
from billing.services.penalties import penalty_charge
from tests.billing.factories import (
    account_make,
    invoice_make,
    money,
    operator_make,
    service_account_make,
    tariff_make,
)

pytestmark = pytest.mark.django_db

AFTER_DUE = date(2026, 3, 1)  # the factories' first invoice falls due on 2026-02-15


def account_with_penalty(currency="KES", **version):
    operator = operator_make(currency=currency)
    return service_account_make(operator=operator, tariff=tariff_make(operator=operator, **version))


def pay(account, amount: str, reference: str = "R1"):
    return payment_record(
        account=account,
        amount=money(amount, account.operator.currency),
        source="mpesa",
        reference=reference,
        clearing="clearing:mpesa",
    )


def test_penalty_is_a_percentage_of_the_open_amount_rounded_half_up():
    # 5 % of 1,234.50 = 61.725 -> KES 61.73 (half up, once).
    account = account_with_penalty(penalty_percent=Decimal("5"))
    overdue = invoice_make(account=account, net_minor=123_450)

    penalty = penalty_charge(invoice=overdue, on_date=AFTER_DUE)

    overdue.refresh_from_db()
    assert penalty.kind == InvoiceKind.PENALTY
    assert penalty.related == overdue
    assert penalty.total_minor == 6_173
    assert penalty.number == "PEN-000001"
    assert penalty.status == InvoiceStatus.ISSUED
    assert penalty.due_date == date(2026, 3, 15)
    (line,) = penalty.lines.all()
    assert (line.kind, line.amount_minor) == (LineKind.PENALTY, 6_173)
    assert overdue.status == InvoiceStatus.OVERDUE
    assert account_balance(account) == money("1296.23")


def test_penalty_posts_receivable_against_penalty_income():
    account = account_with_penalty()
    overdue = invoice_make(account=account, net_minor=10_000)

    penalty_charge(invoice=overdue, on_date=AFTER_DUE)

    journal = JournalTransaction.objects.get(source_type="penalty", source_id=str(overdue.pk))
    entries = {e.account.code: e.amount_minor for e in journal.entries.select_related("account")}
    assert entries == {f"receivable:{account.number}": 500, "penalty_income": -500}


def test_penalty_is_on_what_is_still_open_plus_the_fixed_part():
    # open 1,000.00 - 400.00 = 600.00; 2 % = 12.00; + 50.00 fixed = 62.00.
    account = account_with_penalty(penalty_percent=Decimal("2"), penalty_fixed=Decimal("50"))
    overdue = invoice_make(account=account, net_minor=100_000)
    pay(account, "400.00")

    penalty = penalty_charge(invoice=overdue, on_date=AFTER_DUE)

    assert penalty.total_minor == 6_200


def test_penalty_in_xaf_is_whole_francs():
    # 5 % of XAF 12,345 = 617.25 -> 617; + XAF 500 fixed = XAF 1,117.
    account = account_with_penalty(
        "XAF", penalty_percent=Decimal("5"), penalty_fixed=Decimal("500")
    )
    overdue = invoice_make(account=account, net_minor=12_345)

    penalty = penalty_charge(invoice=overdue, on_date=AFTER_DUE)

    assert penalty.total_minor == 1_117
    assert account_balance(account).format() == "XAF 13,462"


def test_penalty_is_charged_once_per_overdue_invoice():
    account = account_with_penalty()
    overdue = invoice_make(account=account, net_minor=10_000)

    first = penalty_charge(invoice=overdue, on_date=AFTER_DUE)
    again = penalty_charge(invoice=overdue, on_date=date(2026, 4, 1))

    assert first is not None
    assert again is None
    assert Invoice.objects.filter(kind=InvoiceKind.PENALTY).count() == 1
    assert JournalTransaction.objects.filter(kind="penalty").count() == 1


def test_no_penalty_before_or_on_the_due_date():
    account = account_with_penalty()
    invoice = invoice_make(account=account, net_minor=10_000)

    assert penalty_charge(invoice=invoice, on_date=invoice.due_date) is None
    assert not Invoice.objects.filter(kind=InvoiceKind.PENALTY).exists()


def test_no_penalty_on_a_paid_invoice_or_on_a_penalty():
    account = account_with_penalty()
    paid = invoice_make(account=account, net_minor=10_000)
    pay(account, "100.00")
    unpaid = invoice_make(account=account, net_minor=10_000, period=date(2026, 2, 1))
    penalty = penalty_charge(invoice=unpaid, on_date=date(2026, 4, 1))

    assert penalty_charge(invoice=paid, on_date=AFTER_DUE) is None
    assert penalty_charge(invoice=penalty, on_date=date(2026, 6, 1)) is None


def test_no_penalty_when_the_tariff_has_none():
    account = account_make()
    TariffVersion.objects.filter(tariff=account.tariff).update(penalty_percent=0)
    overdue = invoice_make(account=account, net_minor=10_000)

    assert penalty_charge(invoice=overdue, on_date=AFTER_DUE) is None


def test_penalty_uses_the_tariff_in_force_on_the_due_date():
    account = account_with_penalty(penalty_percent=Decimal("5"))
    TariffVersion.objects.create(
        tariff=account.tariff,
        effective_from=date(2026, 2, 20),
        pricing="flat",
        unit_price=Decimal("100"),
        penalty_percent=Decimal("10"),
    )
    overdue = invoice_make(account=account, net_minor=10_000)  # due 2026-02-15

    penalty = penalty_charge(invoice=overdue, on_date=AFTER_DUE)

    assert penalty.total_minor == 500


def test_next_payment_settles_the_penalty_first():
    account = account_with_penalty()
    overdue = invoice_make(account=account, net_minor=10_000)
    penalty = penalty_charge(invoice=overdue, on_date=AFTER_DUE)

    pay(account, "10.00")

    penalty.refresh_from_db()
    overdue.refresh_from_db()
    assert (penalty.status, penalty.paid_minor) == (InvoiceStatus.PAID, 500)
    assert (overdue.status, overdue.paid_minor) == (InvoiceStatus.OVERDUE, 500)
