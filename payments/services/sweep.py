"""The callback drain and sweep: stored deliveries processed after their request.

A delivery is processed in its request, or, with PAYMENTS_CALLBACKS_ASYNC, by a worker's
drain: the request only wakes one (`callback_drain_wake`), and a drain processes every
delivery waiting, so a burst of callbacks costs one task rather than one per callback (a
Celery publish costs more CPU than storing the callback). The
sweep, run every minute with reconciliation, takes up any still waiting: `received` ones (a
lost task, a crashed request) and, for an hour, `error` ones (a deadlock, a database restart).
Nothing an operator sent stays unprocessed, and the claim keeps it exactly once.
"""

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from payments.models import CallbackDelivery, CallbackStatus
from payments.providers import provider_get
from payments.providers.base import CallbackRejected, InboundCallback
from payments.services.callbacks import (
    RETRIED_STATUSES,
    VALIDATION_KIND,
    callback_event_apply,
    delivery_failed,
    delivery_mark,
)

logger = logging.getLogger(__name__)

SWEEP_AFTER = timedelta(minutes=1)
RETRY_ERRORS_FOR = timedelta(hours=1)
# Set while a drain is due to scan; cleared by every drain before each scan. A wake-up whose
# task the broker lost is re-armed after DRAIN_WAKE_SECONDS (and the sweep covers the gap).
DRAIN_WAKE_KEY = "payments:callbacks:drain-due"
DRAIN_WAKE_SECONDS = 30
DRAIN_BATCH = 100


def callback_drain_wake(*, delivery_id: int) -> None:
    """After a delivery was stored for the workers: make sure a drain scans after it. Publishes
    a drain task unless one is already due to scan (the flag). Why that is enough: a drain
    clears the flag before each scan, so if the flag is still set, the drain that set it has
    not scanned yet and will see this delivery."""
    from payments.tasks import callback_drain_task

    try:
        due = not cache.add(DRAIN_WAKE_KEY, 1, timeout=DRAIN_WAKE_SECONDS)
    except Exception:  # the cache is down: wake anyway
        logger.warning("callback drain flag unavailable", exc_info=True)
        due = False
    if due:
        return
    try:
        callback_drain_task.delay()
    except Exception:  # any broker failure: the sweep takes over; the next callback retries
        logger.exception("callback drain wake failed", extra={"delivery": delivery_id})
        _wake_flag_clear()


def _wake_flag_clear() -> None:
    try:
        cache.delete(DRAIN_WAKE_KEY)
    except Exception:  # the cache is down: every callback wakes a drain meanwhile
        logger.warning("callback drain flag unavailable", exc_info=True)


def callback_deliveries_drain(*, batch: int = DRAIN_BATCH) -> int:
    """A worker's job: process the deliveries waiting (`received`), oldest first, until a scan
    finds none. Two drains at once share the work: each skips an event the other is
    processing (services/callback_store.event_claim). Returns how many deliveries it took up.
    """
    after = taken = 0
    while True:
        _wake_flag_clear()  # from here on, a newly stored delivery wakes another drain
        ids = list(
            CallbackDelivery.objects.filter(status=CallbackStatus.RECEIVED, pk__gt=after)
            .exclude(kind=VALIDATION_KIND)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return taken
        _process_each(ids, failure="callback drain failed")
        taken += len(ids)
        after = ids[-1]


def callback_delivery_process(*, delivery_id: int) -> str:
    """Process a stored delivery still waiting (`received`, or `error` after a failure): read
    its stored body again and apply it, once. A worker's job, or the sweep's. Returns what
    became of it."""
    delivery = CallbackDelivery.objects.filter(pk=delivery_id, status__in=RETRIED_STATUSES).first()
    if delivery is None or delivery.kind == VALIDATION_KIND:
        return "nothing to do"
    adapter = provider_get(delivery.provider)
    inbound = InboundCallback(
        delivery.kind, delivery.method, delivery.headers, delivery.body.encode(), None
    )
    try:
        event = adapter.callback_parse(inbound)
        callback_event_apply(delivery, adapter, event, key=delivery.event_key)
    except CallbackRejected as exc:
        delivery_mark(delivery, CallbackStatus.REJECTED, exc.reason)
    except Exception:
        delivery_failed(delivery)
        raise
    return CallbackDelivery.objects.values_list("status", flat=True).get(pk=delivery_id)


def callback_deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Process deliveries still waiting: `received` ones (a lost task, a crashed request) and,
    for an hour, `error` ones (a deadlock, a database restart). Nothing an operator sent stays
    unprocessed. Returns how many were taken up."""
    now = now or timezone.now()
    waiting = CallbackDelivery.objects.filter(received_at__lte=now - SWEEP_AFTER).filter(
        Q(status=CallbackStatus.RECEIVED)
        | Q(status=CallbackStatus.ERROR, received_at__gte=now - RETRY_ERRORS_FOR)
    )
    ids = list(
        waiting.exclude(kind=VALIDATION_KIND)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    _process_each(ids, failure="callback sweep failed")
    return len(ids)


def _process_each(ids: list[int], *, failure: str) -> None:
    """Process each delivery; one that fails is logged (and marked `error`: the sweep retries
    it) and the rest go on."""
    for delivery_id in ids:
        try:
            callback_delivery_process(delivery_id=delivery_id)
        except Exception:
            logger.exception(failure, extra={"delivery": delivery_id})
