"""Celery entry points of the USSD channel: work a hop must not wait for."""

from decimal import Decimal

from celery import shared_task
from django.utils.dateparse import parse_datetime

from billing.money import Money
from ussd.services import bill_sms_queue, ussd_payment_start, ussd_reading_record


@shared_task(acks_late=True)
def bill_sms_send(invoice_id: int, phone: str, language: str, idempotency_key: str) -> None:
    bill_sms_queue(
        invoice_id=invoice_id, phone=phone, language=language, idempotency_key=idempotency_key
    )


@shared_task(acks_late=True)
def payment_start(
    session_id: str,
    account_id: int,
    phone: str,
    amount_minor: int,
    currency: str,
    provider: str,
    network_code: str,
    language: str,
) -> None:
    ussd_payment_start(
        session_id=session_id,
        account_id=account_id,
        phone=phone,
        amount=Money(amount_minor, currency),
        provider=provider,
        network_code=network_code,
        language=language,
    )


@shared_task(acks_late=True)
def reading_record(
    session_id: str,
    meter_id: int,
    index: str,
    read_at: str,
    user_id: int | None,
    phone: str,
    language: str,
) -> None:
    ussd_reading_record(
        session_id=session_id,
        meter_id=meter_id,
        index=Decimal(index),
        read_at=parse_datetime(read_at),
        user_id=user_id,
        phone=phone,
        language=language,
    )
