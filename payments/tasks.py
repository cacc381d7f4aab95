"""Celery entry points of payments: take an id, call one service."""

from celery import shared_task
from django.core.cache import cache

from payments.providers.base import ProviderError
from payments.services.paybill_checks import paybill_check_ask, paybill_checks_ask_due
from payments.services.push import payment_intent_abandon, payment_intent_push
from payments.services.reconcile import payment_intents_reconcile
from payments.services.sweep import callback_deliveries_drain, callback_deliveries_sweep

# A push the operator could not take (timeout, 5xx) is retried after 5, 15, 45 and 135 s,
# then given up: a push later than that would surprise the customer.
PUSH_RETRY_BASE_SECONDS = 5
RECONCILE_LOCK = "payments:reconcile:lock"
RECONCILE_LOCK_SECONDS = 300


@shared_task(bind=True, acks_late=True, max_retries=4)
def payment_intent_push_task(self, intent_id: str) -> None:
    try:
        payment_intent_push(intent_id=intent_id)
    except ProviderError as exc:
        if not exc.transient:
            raise
        if self.request.retries >= self.max_retries:
            payment_intent_abandon(intent_id=intent_id, reason=f"gave up after retries: {exc}")
            return
        countdown = PUSH_RETRY_BASE_SECONDS * 3**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(acks_late=True)
def paybill_check_ask_task(check_id: int) -> str:
    """Ask the operator about a held paybill confirmation (services/paybill_checks.py)."""
    return paybill_check_ask(check_id=check_id)


@shared_task(acks_late=True)
def callback_drain_task() -> int:
    """Stored callbacks, processed by a worker (settings.PAYMENTS_CALLBACKS_ASYNC)."""
    return callback_deliveries_drain()


@shared_task
def payments_reconcile() -> dict:
    """Every minute (CELERY_BEAT_SCHEDULE): process callbacks left unprocessed, then ask
    operators about due intents. Skipped while a previous run still holds the lock."""
    if not cache.add(RECONCILE_LOCK, "1", timeout=RECONCILE_LOCK_SECONDS):
        return {"skipped": True}
    try:
        swept = callback_deliveries_sweep()
        return {
            "callbacks_swept": swept,
            "paybill_checks_asked": paybill_checks_ask_due(),
            **payment_intents_reconcile().as_dict(),
        }
    finally:
        cache.delete(RECONCILE_LOCK)
