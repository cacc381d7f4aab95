"""Celery entry points of the USSD channel: work a hop must not wait for."""

from celery import shared_task

from ussd.services import bill_sms_queue


@shared_task(acks_late=True)
def bill_sms_send(invoice_id: int, phone: str, language: str, idempotency_key: str) -> None:
    bill_sms_queue(
        invoice_id=invoice_id, phone=phone, language=language, idempotency_key=idempotency_key
    )
