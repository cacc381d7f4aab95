"""When dunning runs: once a day per operator, in its own time zone, under one lock.

Beat calls the task every hour (config/settings/celery.py); `dunning_runs_due` runs each
operator whose local time has reached DUNNING_LOCAL_HOUR and whose run of that local date has
not finished yet. Two guards keep it to one effective run: a Redis lock (`cache.add`, so a
second beat or worker skips while a run is going) and the DunningRun row, unique per operator
and date, that marks the day done. Neither is what makes a stage act once: that is the unique
(invoice, stage) constraint of the events (billing.services.dunning), so a lost lock or a
crashed run only ever costs time.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from billing.models import DunningRun, Operator
from billing.services.dunning import dunning_run

LOCK_KEY = "billing:dunning:lock"
LOCK_SECONDS = 4 * 3600
DEFAULT_LOCAL_HOUR = 9


def operator_local_now(operator: Operator, now: datetime | None = None) -> datetime:
    return timezone.localtime(now or timezone.now(), ZoneInfo(operator.timezone))


@contextmanager
def dunning_lock() -> Iterator[bool]:
    """Yields whether this process holds the run lock (a Redis key set with cache.add)."""
    token = uuid.uuid4().hex
    held = cache.add(LOCK_KEY, token, timeout=LOCK_SECONDS)
    try:
        yield held
    finally:
        if held and cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)


def dunning_run_recorded(
    *,
    operator: Operator,
    on_date: date,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """`dunning_run`, recorded as the operator's DunningRun for that date (beat and command)."""
    run, _ = DunningRun.objects.get_or_create(operator=operator, run_date=on_date)
    summary = dunning_run(operator=operator, on_date=on_date, progress=progress)
    DunningRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), summary=summary)
    return summary


def dunning_runs_due(*, now: datetime | None = None) -> dict[str, dict]:
    """Run each operator's dunning once a day, once its local time has reached
    DUNNING_LOCAL_HOUR; a DunningRun row (unique per operator and local date) records the
    finished run so later calls that day skip it. Returns the totals per operator slug."""
    now = now or timezone.now()
    hour = getattr(settings, "DUNNING_LOCAL_HOUR", DEFAULT_LOCAL_HOUR)
    done = {}
    for operator in Operator.objects.order_by("pk"):
        local = operator_local_now(operator, now)
        finished = DunningRun.objects.filter(
            operator=operator, run_date=local.date(), finished_at__isnull=False
        )
        if local.hour < hour or finished.exists():
            continue
        summary = dunning_run_recorded(operator=operator, on_date=local.date())
        done[operator.slug] = summary["totals"]
    return done
