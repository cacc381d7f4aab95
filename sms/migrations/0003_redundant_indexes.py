"""The outbox key is unique through a named constraint: no second (LIKE) index to keep up."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sms", "0002_callbackrequest_inboundmessage_smscontact_and_more"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboundmessage",
            name="idempotency_key",
            field=models.CharField(max_length=200),
        ),
        migrations.AddConstraint(
            model_name="outboundmessage",
            constraint=models.UniqueConstraint(
                fields=("idempotency_key",), name="uniq_outbound_idempotency"
            ),
        ),
    ]
