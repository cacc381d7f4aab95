"""The few writes of the USSD channel itself, and the work a hop hands to a worker; everything
else is other apps' services.

A hop that confirms a payment or a meter reading answers at once and leaves the write to a
worker (ussd.tasks), started once the hop's session is saved: the customer hears back by SMS
when the write is refused (and, for a reading, from billing's own accepted/held notice). Both
writes are idempotent on what the hop decided, so a task delivered twice writes once.
"""

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.errors import ApplicationError
from accounts.models import User
from accounts.phones import phone_mask
from billing.models import (
    Invoice,
    Meter,
    MeterReading,
    ReadingSource,
    ReadingStatus,
    ServiceAccount,
)
from billing.money import Money
from billing.services.readings import ReadingDuplicate, reading_submit
from billing.summaries import invoice_summary_sms
from payments.models import Channel
from payments.services.intents import payment_intent_create
from sms.models import MessageKind, SmsContact
from sms.notifications import reading_result_notify
from sms.services import message_queue
from ussd.texts import error_text, language_pick

logger = logging.getLogger(__name__)


def user_language_set(*, user_id: int, language: str) -> None:
    """Remember the language a customer chose in the menu (one UPDATE)."""
    User.objects.filter(pk=user_id).update(language=language)


def phone_language_set(*, phone: str, language: str) -> None:
    """Remember the language chosen in the menu on a phone with no user (an account contact, a
    phone not linked yet) on the phone's own record, the one the SMS LANG command sets: the
    next session reads it, and texts to the phone use it (one INSERT ... ON CONFLICT)."""
    SmsContact.objects.bulk_create(
        [SmsContact(phone=phone, language=language)],
        update_conflicts=True,
        unique_fields=["phone"],
        update_fields=["language"],
    )


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


def _refusal_text(*, phone: str, language: str, code: str, key: str, account) -> None:
    """Tell `phone` by SMS why what it confirmed in the menu was refused (once per key)."""
    body = error_text(language_pick(language), code)
    message_queue(
        to=phone, body=body, kind=MessageKind.NOTICE, idempotency_key=key, account=account
    )


@transaction.atomic
def ussd_payment_start(
    *,
    session_id: str,
    account_id: int,
    phone: str,
    amount: Money,
    provider: str,
    network_code: str,
    language: str,
) -> None:
    """Create the payment intent a USSD session confirmed (payments pushes it once this
    commits), keyed "ussd:<session id>"; a refusal is texted to `phone`, once."""
    account = ServiceAccount.objects.select_related("operator").get(pk=account_id)
    log = {"session_id": session_id, "phone": phone_mask(phone)}
    try:
        intent = payment_intent_create(
            account=account,
            phone=phone,
            amount=amount,
            channel=Channel.USSD,
            idempotency_key=f"ussd:{session_id}",
            provider=provider,
            network_code=network_code or None,
        )
    except ApplicationError as exc:
        logger.info("ussd payment refused", extra={**log, "code": exc.code})
        _refusal_text(
            phone=phone,
            language=language,
            code=exc.code,
            key=f"ussd-pay:{session_id}",
            account=account,
        )
        return
    logger.info("ussd payment requested", extra={**log, "intent_id": str(intent.pk)})


@transaction.atomic
def ussd_reading_record(
    *,
    session_id: str,
    meter_id: int,
    index: Decimal,
    read_at: datetime,
    user_id: int | None,
    phone: str,
    language: str,
) -> MeterReading | None:
    """Record the reading a USSD session confirmed and text the customer billing's notice
    (accepted, or held for review); a refusal is texted instead. The reading's time was fixed
    by the hop, so a second call finds it (ReadingDuplicate) and records nothing more."""
    meter = Meter.objects.select_related("account").get(pk=meter_id)
    log = {"session_id": session_id, "meter": meter_id, "phone": phone_mask(phone)}
    try:
        reading = reading_submit(
            meter=meter,
            index=index,
            read_at=read_at,
            source=ReadingSource.CUSTOMER_USSD,
            submitted_by=User.objects.filter(pk=user_id).first() if user_id else None,
        )
    except ReadingDuplicate:
        reading = (
            MeterReading.objects.filter(meter=meter, read_at=read_at)
            .exclude(status=ReadingStatus.REJECTED)
            .first()
        )
        if reading is None:
            return None
    except ApplicationError as exc:
        logger.info("ussd reading refused", extra={**log, "code": exc.code})
        _refusal_text(
            phone=phone,
            language=language,
            code=exc.code,
            key=f"ussd-reading:{session_id}",
            account=meter.account,
        )
        return None
    logger.info("ussd reading recorded", extra={**log, "reading": reading.pk})
    reading_result_notify(reading)
    return reading
