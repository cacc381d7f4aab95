"""The callback sweep and worker path: stored deliveries processed after their request.

A delivery is processed in its request (or by a worker, with PAYMENTS_CALLBACKS_ASYNC); the
sweep, run every minute with reconciliation, takes up any still waiting: `received` ones (a
lost task, a crashed request) and, for an hour, `error` ones (a deadlock, a database restart).
Nothing an operator sent stays unprocessed, and the claim keeps it exactly once.
"""

import logging
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from payments.models import CallbackDelivery, CallbackStatus
from payments.providers import provider_get
from payments.providers.base import CallbackRejected, InboundCallback
from payments.services.callbacks import (
    RETRIED_STATUSES,
    VALIDATION_KIND,
    callback_event_apply,
    delivery_mark,
)

logger = logging.getLogger(__name__)

SWEEP_AFTER = timedelta(minutes=1)
RETRY_ERRORS_FOR = timedelta(hours=1)


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
        delivery_mark(delivery, CallbackStatus.ERROR, "processing failed")
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
    for delivery_id in ids:
        try:
            callback_delivery_process(delivery_id=delivery_id)
        except Exception:  # logged; the next sweep tries again
            logger.exception("callback sweep failed", extra={"delivery": delivery_id})
    return len(ids)
