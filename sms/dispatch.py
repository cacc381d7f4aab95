"""The periodic dispatcher: hands due messages from the outbox to workers.

Messages that wait (a not-before time: quiet hours, spacing, daily limits, retries, the rate
limit) are not Celery countdowns, which the Redis broker re-delivers after its visibility
timeout: they wait in the outbox, and this job, run every few seconds by beat, hands over what
is due, most urgent first, without flooding the broker (SMS_DISPATCH_MAX_IN_FLIGHT). It also
hands over again a message whose sending worker died (its claim's lease ran out) and one whose
task was lost (SMS_DISPATCH_GUARD_SECONDS).
"""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q
from django.utils import timezone

from sms.models import URGENT_KINDS, MessageStatus, OutboundMessage
from sms.services import messages_enqueue

LOCK = "sms:outbox-dispatch-lock"


def _hand_over(rows: list[tuple[int, str]], now) -> None:
    """Mark and enqueue: codes and receipts one per task, other kinds SMS_SEND_BATCH a task."""
    OutboundMessage.objects.filter(pk__in=[pk for pk, _ in rows]).update(dispatched_at=now)
    by_kind: dict[str, list[int]] = {}
    for pk, kind in rows:  # rows come most urgent first; dicts keep that order
        by_kind.setdefault(kind, []).append(pk)
    for kind, ids in by_kind.items():
        size = 1 if kind in URGENT_KINDS else settings.SMS_SEND_BATCH
        for start in range(0, len(ids), size):
            messages_enqueue(ids[start : start + size], kind)


def outbox_dispatch() -> dict:
    """Hand due messages to workers, most urgent first, SMS_DISPATCH_BATCH at a time until
    SMS_DISPATCH_MAX_IN_FLIGHT wait in the broker: deferred ones whose time has come, retries,
    and messages whose sending worker died (lease over). Skips while another run holds the
    lock."""
    if not cache.add(LOCK, 1, timeout=300):
        return {"skipped": True}
    try:
        now = timezone.now()
        guard = now - timedelta(seconds=settings.SMS_DISPATCH_GUARD_SECONDS)
        queued = OutboundMessage.objects.filter(status=MessageStatus.QUEUED)
        crashed = list(
            OutboundMessage.objects.filter(status=MessageStatus.SENDING, lease_until__lte=now)
            .filter(
                Q(dispatched_at__isnull=True)
                | Q(dispatched_at__lt=F("lease_until"))  # not handed over since it crashed
                | Q(dispatched_at__lte=guard)  # handed over, but that task was lost too
            )
            .values_list("id", "kind")[: settings.SMS_DISPATCH_BATCH]
        )
        _hand_over(crashed, now)
        room = settings.SMS_DISPATCH_MAX_IN_FLIGHT - queued.filter(dispatched_at__gt=guard).count()
        dispatched = 0
        while room > 0:
            due = list(
                queued.filter(not_before__lte=now)
                .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=guard))
                .order_by("priority", "not_before", "id")
                .values_list("id", "kind")[: min(settings.SMS_DISPATCH_BATCH, room)]
            )
            if not due:
                break
            _hand_over(due, now)  # now marked: the next query does not see them again
            dispatched, room = dispatched + len(due), room - len(due)
        return {"dispatched": dispatched, "recovered": len(crashed)}
    finally:
        cache.delete(LOCK)
