"""Celery entry points of the outbox: take an id, call one service."""

from celery import shared_task

from sms.gateways.base import GatewayUnavailable
from sms.services import message_deliver, message_fail

# A gateway that stays unavailable is retried after 30 s, 1, 2, 4, 8 and 16 min, then given up.
RETRY_BASE_SECONDS = 30


@shared_task(bind=True, acks_late=True, max_retries=6)
def message_send(self, message_id: int) -> None:
    try:
        message_deliver(message_id=message_id)
    except GatewayUnavailable as exc:
        if self.request.retries >= self.max_retries:
            message_fail(message_id=message_id, reason=f"gave up after retries: {exc}")
            return
        raise self.retry(exc=exc, countdown=RETRY_BASE_SECONDS * 2**self.request.retries) from exc
