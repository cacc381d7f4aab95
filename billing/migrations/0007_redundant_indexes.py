"""Drop the indexes that another index already leads with, on the tables every payment, bill
and dunning stage writes. Only the indexes go: the foreign-key constraints stay as they are.
"""

from django.db import migrations

from billing.schema_ops import foreign_key_index_drop


def _drop(model, field, to, related_name, index):
    return foreign_key_index_drop(
        app="billing", model=model, field=field, to=to, related_name=related_name, index=index
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_ledger_batch_check"),
    ]

    operations = [
        # uniq_dunning_event (invoice, stage) and (account, created_at) lead with them
        _drop("dunningevent", "invoice", "billing.invoice", "dunning_events",
              "billing_dunningevent_invoice_id_3ca5765b"),
        _drop("dunningevent", "account", "billing.serviceaccount", "+",
              "billing_dunningevent_account_id_cc1b0b9e"),
        # uniq_invoice_number (operator, number) and (account, status, due_date)
        _drop("invoice", "operator", "billing.operator", "+",
              "billing_invoice_operator_id_deeb819e"),
        _drop("invoice", "account", "billing.serviceaccount", "invoices",
              "billing_invoice_account_id_71f06cf2"),
        # (account, journal)
        _drop("ledgerentry", "account", "billing.ledgeraccount", "entries",
              "billing_ledgerentry_account_id_ac8d6a24"),
        # (account, received_at)
        _drop("payment", "account", "billing.serviceaccount", "payments",
              "billing_payment_account_id_411a2f8d"),
        # The same indexes as the foreign keys' own, made twice.
        migrations.RemoveIndex(model_name="allocation", name="billing_all_invoice_a85016_idx"),
        migrations.RemoveIndex(model_name="allocation", name="billing_all_payment_98e56c_idx"),
    ]
