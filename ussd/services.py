"""The few writes of the USSD channel itself; everything else is other apps' services."""

import logging

from django.db import transaction

from accounts.models import User
from accounts.phones import phone_mask
from billing.models import Invoice
from billing.summaries import invoice_summary_sms
from sms.models import MessageKind
from sms.services import message_queue

logger = logging.getLogger(__name__)


def user_language_set(*, user_id: int, language: str) -> None:
    """Remember the language a customer chose in the menu (one UPDATE)."""
    User.objects.filter(pk=user_id).update(language=language)


@transaction.atomic
def bill_sms_queue(*, invoice_id: int, phone: str, language: str, idempotency_key: str) -> None:
    """Queue the invoice's one-SMS summary to `phone`; the same key queues it once."""
    invoice = Invoice.objects.select_related("account", "operator").get(pk=invoice_id)
    message_queue(
        to=phone,
        body=invoice_summary_sms(invoice, language),
        kind=MessageKind.BILL,
        idempotency_key=idempotency_key,
    )
    logger.info("bill sent by sms", extra={"invoice": invoice.pk, "phone": phone_mask(phone)})
