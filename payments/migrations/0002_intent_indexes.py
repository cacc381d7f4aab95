"""Intent indexes: the account is found through uniq_intent_idempotency (account,
idempotency_key), so its own index goes (the foreign-key constraint stays as it is); the
callback key keeps one index, without the LIKE twin that db_index=True made."""

from django.db import migrations, models

from billing.schema_ops import foreign_key_index_drop


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_redundant_indexes"),
        ("payments", "0001_initial"),
    ]

    operations = [
        foreign_key_index_drop(
            app="payments",
            model="paymentintent",
            field="account",
            to="billing.serviceaccount",
            related_name="payment_intents",
            index="payments_paymentintent_account_id_43b629a5",
        ),
        migrations.AlterField(
            model_name="paymentintent",
            name="callback_key",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddIndex(
            model_name="paymentintent",
            index=models.Index(fields=["callback_key"], name="payments_intent_callback_key"),
        ),
    ]
