"""Compiled queries return what the ORM returns, with the values bound as parameters.

Run on SQLite and on PostgreSQL: the SQL is compiled per database vendor, and the converters
(Decimal and datetime columns on SQLite, integer sums on PostgreSQL) differ between them.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db.models import Q, Sum

from accounts.models import User
from billing.compiled import CompiledQuery, Slot
from billing.models import Invoice, InvoiceKind, InvoiceStatus, LedgerEntry, MeterReading
from billing.selectors import (
    CUSTOMER_LEDGER_KINDS,
    account_balance,
    account_last_invoice,
    account_statement,
)
from billing.services.credit_notes import credit_note_issue
from billing.services.payments import payment_record
from billing.services.penalties import penalty_charge
from billing.services.readings import meter_state
from tests.billing import meter_factories
from tests.billing.factories import account_make, invoice_make, money

pytestmark = pytest.mark.django_db
READ_AT = datetime(2025, 3, 1, 8, 30, 15, 250_000, tzinfo=UTC)


def _readings(meter: int, before: datetime | None = None):
    accepted = MeterReading.objects.filter(meter_id=meter)
    if before is not None:
        accepted = accepted.filter(read_at__lt=before)
    return accepted.order_by("-read_at").values_list("index", "read_at", "is_estimated")


READINGS = CompiledQuery(
    _readings,
    meter=Slot(-1_999_999_001),
    before=Slot(datetime(1901, 1, 1, tzinfo=UTC), MeterReading._meta.get_field("read_at")),
)


@pytest.fixture
def meter():
    meter = meter_factories.meter_make(max_index=9999, initial_index=5)
    for month, (index, estimated) in enumerate([(12.5, False), (20.125, True), (31, False)]):
        meter_factories.reading_make(
            meter,
            index,
            READ_AT + timedelta(days=30 * month),
            consumption=index - 5,
            estimated=estimated,
        )
    return meter


def test_rows_equal_the_orms_with_decimals_datetimes_and_booleans(meter):
    for before in (READ_AT + timedelta(days=31), READ_AT + timedelta(days=365)):
        expected = list(_readings(meter.pk, before))
        rows = READINGS.rows(meter=meter.pk, before=before)
        assert rows == expected
        assert [tuple(map(type, row)) for row in rows] == [tuple(map(type, r)) for r in expected]
    rows = READINGS.rows(meter=meter.pk, before=READ_AT + timedelta(days=31))
    assert [(str(index), at, estimated) for index, at, estimated in rows] == [
        ("20.125", READ_AT + timedelta(days=30), True),
        ("12.500", READ_AT, False),
    ]
    assert READINGS.rows(meter=meter.pk, before=READ_AT) == []
    assert READINGS.rows(meter=meter.pk + 1, before=READ_AT + timedelta(days=365)) == []


def test_values_are_bound_never_formatted_into_the_sql():
    user = meter_factories.customer_make()
    by_phone = CompiledQuery(
        lambda phone: User.objects.filter(Q(phone=phone) | Q(name=phone)).values("id", "phone"),
        phone=Slot("\x00phone"),
    )
    assert by_phone.dicts(phone=user.phone) == [{"id": user.pk, "phone": user.phone}]
    assert by_phone.dicts(phone="x' OR '1'='1") == []
    assert by_phone.dicts(phone="%s %% ?") == []
    assert User.objects.filter(pk=user.pk).exists()


def test_a_sentinel_the_orm_rewrites_fails_loudly():
    contains = CompiledQuery(
        lambda phone: User.objects.filter(phone__contains=phone).values("id"),
        phone=Slot("\x00phone"),
    )
    with pytest.raises(ValueError, match="phone"):
        contains.rows(phone="+254")


@pytest.fixture
def busy_account():
    """An account whose ledger has invoices, a payment, a penalty, a credit note and a
    move that leaves the balance unchanged (credit applied to an invoice)."""
    account = account_make()
    january = invoice_make(account=account, net_minor=60_000)
    penalty_charge(invoice=january, on_date=date(2026, 3, 1))
    credit_note_issue(invoice=january, amount=money("100.00"), reason="leak", actor=None)
    payment_record(
        account=account,
        amount=money("800.00"),
        source="mpesa",
        reference="R2",
        clearing="clearing:mpesa",
    )
    invoice_make(account=account, net_minor=20_000)  # takes 200.00 of the credit
    return account


def _orm_balance(account) -> int:
    entries = LedgerEntry.objects.filter(
        account__service_account=account,
        account__kind__in=CUSTOMER_LEDGER_KINDS,
        currency=account.operator.currency,
    )
    return entries.aggregate(s=Sum("amount_minor"))["s"] or 0


def _orm_last_invoice(account):
    return (
        Invoice.objects.filter(account=account, kind=InvoiceKind.INVOICE)
        .exclude(status__in=(InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED))
        .order_by("-issue_date", "-id")
        .first()
    )


def _fields(invoice) -> dict:
    return {f.attname: getattr(invoice, f.attname) for f in Invoice._meta.concrete_fields}


def test_account_selectors_equal_the_orm(busy_account):
    account = busy_account
    balance = account_balance(account)
    assert (balance.minor, balance.currency) == (_orm_balance(account), "KES")
    assert type(balance.minor) is int
    last = account_last_invoice(account)
    assert _fields(last) == _fields(_orm_last_invoice(account))
    assert not last._state.adding
    lines = account_statement(account, limit=10)
    assert len(lines) >= 4
    assert lines[-1].balance == balance
    assert account_statement(account, limit=2) == lines[-2:]
    assert all(type(line.amount.minor) is int for line in lines)


def test_an_account_with_no_entries():
    account = account_make()
    assert account_balance(account) == money("0.00")
    assert account_last_invoice(account) is None
    assert account_statement(account) == []


def test_meter_state_now_and_before_a_time(meter):
    now = meter_state(meter)
    assert (now.real_index, now.estimated_since) == (31, 0)
    assert [str(n) for n in now.history] == ["26.000", "15.125", "7.500"]
    before = meter_state(meter, before=READ_AT + timedelta(days=45))
    assert (str(before.real_index), str(before.estimated_since)) == ("12.500", "15.125")
    assert meter_state(meter, before=READ_AT).real_index == meter.initial_index
