"""Celery entry points of billing: take ids, call one service."""

from celery import shared_task

from billing.meter_commands import MeterCommandUnavailable
from billing.services.dunning_schedule import dunning_lock, dunning_runs_due
from billing.services.service_control import work_order_dispatch

# A meter head-end that cannot be reached is retried after 1, 2, 4, 8 and 16 minutes; then the
# work order simply stays open for a technician.
METER_RETRY_BASE_SECONDS = 60


@shared_task
def dunning_daily() -> dict:
    """Hourly (CELERY_BEAT_SCHEDULE): run each operator's dunning once its local day has
    reached DUNNING_LOCAL_HOUR. Skipped while another run holds the lock."""
    with dunning_lock() as held:
        if not held:
            return {"skipped": True}
        return {"operators": dunning_runs_due()}


@shared_task(bind=True, acks_late=True, max_retries=5)
def work_order_dispatch_task(self, work_order_id: int) -> None:
    try:
        work_order_dispatch(work_order_id=work_order_id)
    except MeterCommandUnavailable as exc:
        if self.request.retries >= self.max_retries:
            return
        countdown = METER_RETRY_BASE_SECONDS * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from exc
