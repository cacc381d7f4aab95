"""`seed_demo`: an operator, a tariff of each kind, and three customers in three states with
five months of history made by the real services, created once however often it runs."""

from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db.models import Sum

from accounts.models import User
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    Operator,
    Pricing,
    ServiceAccount,
    TariffVersion,
)
from billing.selectors import account_balance

pytestmark = pytest.mark.django_db
NAIROBI = ZoneInfo("Africa/Nairobi")
TODAY = datetime(2026, 11, 21, 12, 0, tzinfo=NAIROBI)


def _seed(now: datetime = TODAY) -> str:
    out = StringIO()
    with time_machine.travel(now, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def _account(phone: str) -> ServiceAccount:
    return ServiceAccount.objects.get(owner__phone=phone)


def _invoices(phone: str):
    return Invoice.objects.filter(account__owner__phone=phone, kind=InvoiceKind.INVOICE).order_by(
        "period"
    )


ENGINE_MODELS = [
    model
    for model in apps.get_app_config("billing").get_models()
    if model.__module__.rsplit(".", 1)[-1]
    in {"operator", "customers", "meters", "tariffs", "invoices", "ledger"}
]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in [*ENGINE_MODELS, User]}


def test_the_operator_prints_the_paybill_and_ussd_code_on_its_bills():
    _seed()

    operator = Operator.objects.get()
    assert (operator.currency, operator.timezone) == ("KES", "Africa/Nairobi")
    assert (operator.paybill, operator.ussd_code) == ("123456", "*384*12#")


def test_there_is_a_tariff_of_every_kind():
    _seed()

    versions = TariffVersion.objects.select_related("tariff")
    kinds = {(v.tariff.utility, v.pricing) for v in versions}
    assert kinds == {
        ("water", Pricing.TIERED),
        ("water", Pricing.FLAT),
        ("electricity", Pricing.INDEXED),
        ("solar", Pricing.FLAT),
    }
    indexed = versions.get(pricing=Pricing.INDEXED)
    months = set(indexed.price_index.values.values_list("month", flat=True))
    assert {date(2026, m, 1) for m in range(6, 12)} <= months


def test_each_customer_has_five_months_of_readings_and_bills():
    _seed()

    for phone in ("+254712000001", "+254712000002", "+254712000003"):
        invoices = list(_invoices(phone))
        assert [invoice.period for invoice in invoices] == [
            date(2026, month, 1) for month in range(6, 11)
        ]
        assert [invoice.issue_date for invoice in invoices] == [
            date(2026, month, 1) for month in range(7, 12)
        ]
        assert all(invoice.total_minor > 0 and not invoice.is_estimated for invoice in invoices)
        assert all(invoice.readings.count() == 1 for invoice in invoices)


def test_one_customer_is_paid_up_one_partly_paid_and_one_overdue():
    _seed()

    paid_up, partly, overdue = (
        "+254712000001",
        "+254712000002",
        "+254712000003",
    )
    assert account_balance(_account(paid_up)).minor == 0
    assert set(_invoices(paid_up).values_list("status", flat=True)) == {InvoiceStatus.PAID}

    partly_statuses = list(_invoices(partly).values_list("status", flat=True))
    assert partly_statuses == [InvoiceStatus.PAID] * 4 + [InvoiceStatus.PARTIALLY_PAID]
    assert account_balance(_account(partly)).minor > 0

    overdue_statuses = list(_invoices(overdue).values_list("status", flat=True))
    assert overdue_statuses == [InvoiceStatus.PAID] * 2 + [InvoiceStatus.OVERDUE] * 3
    penalties = Invoice.objects.filter(account__owner__phone=overdue, kind=InvoiceKind.PENALTY)
    assert penalties.count() == 3  # the day after each due date (15 Sep, 15 Oct, 15 Nov)
    open_total = sum(invoice.open_minor for invoice in _invoices(overdue)) + sum(
        penalty.total_minor for penalty in penalties
    )
    assert account_balance(_account(overdue)).minor == open_total


def test_the_books_balance_to_zero():
    _seed()

    assert LedgerEntry.objects.aggregate(total=Sum("amount_minor"))["total"] == 0


def test_the_welcome_text_lists_each_customers_phone_and_account_number():
    output = _seed()

    for phone, number in [
        ("+254712000001", "100000011"),
        ("+254712000002", "100000022"),
        ("+254712000003", "100000033"),
    ]:
        assert _account(phone).number == number
        assert f"{phone}  account {number}" in output
    assert "owes KES 0.00" in output


def test_running_it_again_creates_nothing_twice():
    _seed()
    first = _counts()

    output = _seed()

    assert _counts() == first
    assert "Demo data ready." in output


def test_it_runs_early_on_the_first_of_a_month_without_inventing_the_future():
    _seed(datetime(2026, 12, 1, 3, 0, tzinfo=NAIROBI))

    november_bills = Invoice.objects.filter(period=date(2026, 11, 1))
    assert november_bills.count() == 3
    assert all(invoice.issue_date == date(2026, 12, 1) for invoice in november_bills)
    assert account_balance(_account("+254712000001")).minor == 0
    # September's and October's bills are overdue; November's is due only on 15 December.
    penalties = _account("+254712000003").invoices.filter(kind=InvoiceKind.PENALTY)
    assert sorted(penalty.related.period.month for penalty in penalties) == [9, 10]
