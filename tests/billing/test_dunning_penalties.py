"""The bulk penalty of the dunning run charges exactly what `penalty_charge` charges."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JournalTransaction,
    LedgerEntry,
    TariffVersion,
)
from billing.selectors import account_balance
from billing.services.dunning_penalties import PenaltyTerms, penalties_charge_bulk
from billing.services.penalties import penalty_charge
from tests.billing.dunning_support import DUE, bill, pay
from tests.billing.factories import operator_make, service_account_make, tariff_make

pytestmark = pytest.mark.django_db
ON = DUE + timedelta(days=7)


def twins(**version):
    """Two accounts on the same tariff, each with the same bill of KES 1,160.00."""
    operator = operator_make()
    tariff = tariff_make(operator=operator, **version)
    accounts = [service_account_make(operator=operator, tariff=tariff) for _ in range(2)]
    return operator, [bill(account) for account in accounts]


def charge_bulk(operator, invoices, on=ON):
    with transaction.atomic():
        return penalties_charge_bulk(
            operator=operator,
            invoice_ids=[invoice.pk for invoice in invoices],
            on_date=on,
            terms=PenaltyTerms.of(operator),
        )


def shape(penalty: Invoice) -> tuple:
    journal = JournalTransaction.objects.get(
        source_type="penalty", source_id=str(penalty.related_id), kind="penalty"
    )
    entries = sorted(
        (entry.account.kind, entry.amount_minor)
        for entry in LedgerEntry.objects.filter(journal=journal).select_related("account")
    )
    (line,) = penalty.lines.all()
    return (
        penalty.total_minor,
        penalty.status,
        penalty.issue_date,
        penalty.due_date,
        (line.kind, line.quantity, line.unit_price, line.amount_minor),
        line.description.split(" on ")[0],
        entries,
    )


@pytest.mark.parametrize(
    "version",
    [{}, {"penalty_percent": Decimal("2.5"), "penalty_fixed": Decimal("30.005")}],
)
def test_bulk_penalty_matches_penalty_charge(version):
    operator, (one, two) = twins(**version)
    pay(two.account, "333.33", "PART")  # an open amount that rounds
    pay(one.account, "333.33", "PART1")
    single = penalty_charge(invoice=one, on_date=ON)
    charged = charge_bulk(operator, [two])
    (bulk,) = Invoice.objects.filter(related=two, kind=InvoiceKind.PENALTY)
    assert charged == {two.pk: bulk.total_minor}
    assert shape(bulk) == shape(single)
    one.refresh_from_db(), two.refresh_from_db()
    assert one.status == two.status == InvoiceStatus.OVERDUE
    assert account_balance(one.account) == account_balance(two.account)


def test_bulk_penalty_is_charged_once_and_only_on_overdue_open_invoices():
    operator, (due, paid) = twins()
    pay(paid.account, "1160", "FULL")
    not_yet = bill(due.account, due=DUE + timedelta(days=31))
    assert set(charge_bulk(operator, [due, paid, not_yet])) == {due.pk}
    assert charge_bulk(operator, [due]) == {}
    assert penalty_charge(invoice=due, on_date=ON) is None
    assert Invoice.objects.filter(kind=InvoiceKind.PENALTY).count() == 1


def test_bulk_penalty_uses_the_tariff_version_in_force_on_the_due_date():
    operator, (invoice, _) = twins()
    TariffVersion.objects.create(
        tariff=invoice.account.tariff,
        effective_from=DUE + timedelta(days=1),
        pricing="flat",
        unit_price=Decimal(100),
        penalty_percent=Decimal(50),
    )
    assert charge_bulk(operator, [invoice]) == {invoice.pk: 5800}  # 5 %, not 50 %


def test_customer_credit_goes_to_the_new_penalty():
    operator = operator_make()
    account = service_account_make(operator=operator, tariff=tariff_make(operator=operator))
    pay(account, "500", "EARLY")  # nothing to pay yet: customer credit
    invoice = bill(account, apply_credit=False)
    assert charge_bulk(operator, [invoice]) == {invoice.pk: 5800}
    (penalty,) = Invoice.objects.filter(related=invoice, kind=InvoiceKind.PENALTY)
    assert penalty.status == InvoiceStatus.PAID  # charges are settled first
    invoice.refresh_from_db()
    assert invoice.open_minor == 116000 - (50000 - 5800)
    assert account_balance(account).minor == 116000 + 5800 - 50000
