"""The billing run's bulk writes (COPY on PostgreSQL): ids, values and constraints as usual."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from billing.bulk import objects_insert, rows_insert
from billing.models import Invoice, InvoiceLine
from tests.billing.invoice_factories import NOV, account_make, operator_make, tariff_make

pytestmark = pytest.mark.django_db


def invoice(account, number: str) -> Invoice:
    return Invoice(
        operator=account.operator,
        account=account,
        number=number,
        status="issued",
        period=NOV,
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 15),
        currency="KES",
        total_minor=12345,
        consumption=D("1.234"),
    )


def test_objects_get_their_ids_and_rows_keep_every_value():
    operator = operator_make()
    tariff = tariff_make(operator)
    made = [invoice(account_make(operator, tariff), f"INV-00000{n}") for n in (1, 2)]
    objects_insert(Invoice, made)
    assert all(item.pk for item in made)
    rows_insert(
        InvoiceLine,
        ("invoice", "position", "kind", "description", "quantity", "unit_price", "amount_minor"),
        [(made[0].pk, 1, "tier", "Tier 1 (0-10 m3)", D("1.234"), D("23.4567"), 2894)],
    )
    stored = Invoice.objects.get(pk=made[1].pk)
    assert (stored.number, stored.total_minor, stored.consumption) == (
        "INV-000002",
        12345,
        D("1.234"),
    )
    line = InvoiceLine.objects.get(invoice_id=made[0].pk)
    assert (line.description, line.unit_price, line.amount_minor) == (
        "Tier 1 (0-10 m3)",
        D("23.4567"),
        2894,
    )


def test_a_broken_constraint_is_an_integrity_error():
    operator = operator_make()
    account = account_make(operator, tariff_make(operator))
    objects_insert(Invoice, [invoice(account, "INV-000001")])
    with pytest.raises(IntegrityError), transaction.atomic():
        objects_insert(Invoice, [invoice(account, "INV-000002")])
    assert Invoice.objects.count() == 1
