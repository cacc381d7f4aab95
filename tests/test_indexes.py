"""The schema's indexes: every foreign key can be followed backwards through an index (a
PROTECT check or an account's history never scans a table), and on the tables written for
every payment, bill, callback and dunning stage no plain index repeats the leading columns of
another (it would cost every insert for nothing)."""

import pytest
from django.apps import apps
from django.db import connection

APPS = ("accounts", "billing", "payments", "sms", "ussd")
BUSY = (
    "billing.Invoice",
    "billing.InvoiceLine",
    "billing.Payment",
    "billing.Allocation",
    "billing.JournalTransaction",
    "billing.LedgerEntry",
    "billing.DunningEvent",
    "payments.PaymentIntent",
    "payments.CallbackDelivery",
    "sms.OutboundMessage",
)


def _tables():
    for model in apps.get_models():
        if model._meta.app_label in APPS and model._meta.managed and not model._meta.proxy:
            yield model


def _indexes(table: str) -> dict[str, tuple[list[str], bool]]:
    """{name: (columns, unique)} of the table's indexes, as the database reports them."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: (info["columns"], bool(info["unique"]))
        for name, info in found.items()
        if (info["index"] or info["unique"] or info["primary_key"]) and info["columns"]
    }


@pytest.mark.django_db
def test_every_foreign_key_leads_an_index():
    unindexed = []
    for model in _tables():
        indexes = _indexes(model._meta.db_table)
        firsts = {columns[0] for columns, _ in indexes.values()}
        for field in model._meta.concrete_fields:
            if field.is_relation and field.db_constraint and field.column not in firsts:
                unindexed.append(f"{model._meta.db_table}.{field.column}")
    assert unindexed == []


@pytest.mark.django_db
def test_busy_tables_have_no_index_another_leads_with():
    redundant = []
    for model in map(apps.get_model, BUSY):
        indexes = _indexes(model._meta.db_table)
        for name, (columns, unique) in indexes.items():
            if unique:
                continue  # a unique index enforces something a longer one does not
            for other, (longer, _) in indexes.items():
                if other != name and longer[: len(columns)] == columns:
                    redundant.append(f"{name} (covered by {other})")
                    break
    assert redundant == [], "\n".join(redundant)
