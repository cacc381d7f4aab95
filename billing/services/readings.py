"""Meter readings: submission, review, meter replacement; the consumption a period bills.

How consumption, rollover and anomalies are decided is in `billing.services.metering`; how a
billing period's consumption is summed or estimated is in `billing.services.consumption`
(re-exported here). Every write locks the meter row first, so readings of one meter are
decided one at a time and always against the latest accepted reading.

A reading must be newer than the meter's latest accepted reading (`reading_out_of_order`
otherwise): the later reading's consumption already covers the time before it. For the same
reason a held reading can no longer be accepted once a newer reading (an estimate made by the
billing run included) was accepted (`reading_superseded`); review held readings before the
billing run.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Exists, Q, Subquery
from django.utils import timezone

from accounts.audit import audit_record, audit_snapshot
from accounts.errors import ApplicationError
from billing.compiled import CompiledQuery, Slot
from billing.models import Meter, MeterReading, ReadingSource, ReadingStatus, ServiceAccount
from billing.services.consumption import (
    PeriodConsumption,
    period_consumption,
    period_consumption_bulk,
    readings_mark_invoiced,
)
from billing.services.metering import (
    HELD_CUSTOMER,
    HISTORY_PERIODS,
    MeterState,
    ReadingBelowPrevious,
    index_text,
    reading_anomaly,
    reading_consumption,
    register_turn,
)

__all__ = [
    "MeterNotOnAccount",
    "MeterRemoved",
    "MeterSerialTaken",
    "PeriodConsumption",
    "ReadingBelowPrevious",
    "ReadingDuplicate",
    "ReadingInvalid",
    "ReadingNotPending",
    "ReadingOutOfOrder",
    "ReadingSuperseded",
    "meter_replace",
    "meter_state",
    "period_consumption",
    "period_consumption_bulk",
    "reading_review",
    "reading_submit",
    "readings_mark_invoiced",
]

CUSTOMER_SOURCES = frozenset({ReadingSource.CUSTOMER_USSD, ReadingSource.CUSTOMER_SMS})
# Readings may be dated this far ahead of the server clock (clock skew of handsets).
FUTURE_TOLERANCE = timedelta(minutes=5)
INDEX_PLACES = 3


class ReadingInvalid(ApplicationError):
    code = "reading_invalid"
    message = "This reading cannot be recorded."


class ReadingDuplicate(ApplicationError):
    code = "reading_duplicate"
    message = "This meter already has a reading at that time."
    http_status = 409


class ReadingOutOfOrder(ApplicationError):
    code = "reading_out_of_order"
    message = "The meter already has a newer accepted reading."
    http_status = 409


class ReadingSuperseded(ApplicationError):
    code = "reading_superseded"
    message = "A newer reading of this meter was accepted since; this one can only be rejected."
    http_status = 409


class ReadingNotPending(ApplicationError):
    code = "reading_not_pending"
    message = "This reading was already reviewed."
    http_status = 409


class MeterRemoved(ApplicationError):
    code = "meter_removed"
    message = "This meter was removed; read its replacement."
    http_status = 409


class MeterNotOnAccount(ApplicationError):
    code = "meter_not_on_account"
    message = "This meter does not belong to the account."


class MeterSerialTaken(ApplicationError):
    code = "meter_serial_taken"
    message = "Another meter already has this serial number."
    http_status = 409


@transaction.atomic
def reading_submit(
    *,
    meter: Meter,
    index: Decimal,
    read_at: datetime,
    source: str,
    submitted_by=None,
) -> MeterReading:
    """Record a reading; accepted at once, or held for review (`status` pending_review, with
    the reason in `anomaly`) when it looks wrong or a customer sent it.

    Refused: an index below the previous reading that is not a plausible rollover
    (ReadingBelowPrevious), a second reading at the same time (ReadingDuplicate), a reading
    older than the latest accepted one (ReadingOutOfOrder), on a removed meter (MeterRemoved).
    """
    if source not in ReadingSource.values or source == ReadingSource.ESTIMATE:
        raise ReadingInvalid(f"Unknown reading source {source!r}.")
    meter = Meter.objects.select_for_update().get(pk=meter.pk)
    if meter.removed_at is not None:
        raise MeterRemoved()
    return _reading_record(
        meter=meter, index=index, read_at=read_at, source=source, submitted_by=submitted_by
    )


@transaction.atomic
def reading_review(*, reading: MeterReading, accept: bool, actor) -> MeterReading:
    """Accept or reject a held reading. Accepting recomputes its consumption against the
    meter's readings as they are now; the decision goes to the audit trail."""
    Meter.objects.select_for_update().get(pk=reading.meter_id)
    reading = MeterReading.objects.select_related("meter").get(pk=reading.pk)
    target = ReadingStatus.ACCEPTED if accept else ReadingStatus.REJECTED
    if target not in ReadingStatus.transitions()[reading.status]:
        raise ReadingNotPending()
    before = audit_snapshot(reading)
    if accept:
        if _newer_accepted(reading.meter, reading.read_at) is not None:
            raise ReadingSuperseded()
        state = meter_state(reading.meter, before=reading.read_at)
        reading.consumption, reading.rolled_over = reading_consumption(state, reading.index)
    reading.status = target
    reading.save(update_fields=["status", "consumption", "rolled_over"])
    audit_record(
        actor=actor,
        action="meter_reading.accept" if accept else "meter_reading.reject",
        instance=reading,
        before=before,
        after=audit_snapshot(reading),
    )
    return reading


@transaction.atomic
def meter_replace(
    *,
    account: ServiceAccount,
    old_meter: Meter,
    final_index: Decimal,
    new_serial: str,
    new_initial_index: Decimal,
    at: datetime,
    actor=None,
    new_max_index: Decimal | None = None,
) -> Meter:
    """Swap a meter: a final reading on the old one at `at`, the old one removed at `at`, the
    new one installed at `at` from `new_initial_index` (register size as the old one unless
    `new_max_index` is given). A period spanning the swap bills both meters' consumption."""
    old = Meter.objects.select_for_update().get(pk=old_meter.pk)
    if old.account_id != account.pk:
        raise MeterNotOnAccount()
    if old.removed_at is not None:
        raise MeterRemoved()
    serial = (new_serial or "").strip()
    if not serial:
        raise ReadingInvalid("The new meter needs a serial number.")
    if Meter.objects.filter(serial=serial).exists():
        raise MeterSerialTaken()
    max_index = old.max_index if new_max_index is None else new_max_index
    initial = _index_checked(new_initial_index, max_index)
    before = audit_snapshot(old)
    final = _reading_record(
        meter=old,
        index=final_index,
        read_at=at,
        source=ReadingSource.TECHNICIAN,
        submitted_by=actor,
    )
    old.removed_at = at
    old.save(update_fields=["removed_at"])
    new = Meter.objects.create(
        account=account,
        serial=serial,
        unit=old.unit,
        max_index=max_index,
        initial_index=initial,
        installed_at=at,
    )
    audit_record(
        actor=actor,
        action="meter.replace",
        instance=old,
        before=before,
        after={**audit_snapshot(old), "final_reading": final.pk, "new_meter": new.pk},
    )
    return new


def _reading_record(
    *, meter: Meter, index: Decimal, read_at: datetime, source: str, submitted_by
) -> MeterReading:
    """Decide and save a reading on a meter the caller has locked."""
    index = _index_checked(index, meter.max_index)
    _read_at_check(read_at, meter)
    same_time = MeterReading.objects.filter(meter=meter, read_at=read_at)
    if same_time.exclude(status=ReadingStatus.REJECTED).exists():
        raise ReadingDuplicate()
    newer = _newer_accepted(meter, read_at)
    if newer is not None:
        raise ReadingOutOfOrder(
            f"The meter already has an accepted reading of {index_text(newer.index)} "
            f"at {timezone.localtime(newer.read_at):%Y-%m-%d %H:%M}; a reading must be newer.",
        )
    state = meter_state(meter, before=read_at)
    consumption, rolled_over = reading_consumption(state, index)
    anomaly = reading_anomaly(state.history, consumption)
    if not anomaly and source in CUSTOMER_SOURCES:
        anomaly = HELD_CUSTOMER
    return MeterReading.objects.create(
        meter=meter,
        index=index,
        read_at=read_at,
        source=source,
        status=ReadingStatus.PENDING_REVIEW if anomaly else ReadingStatus.ACCEPTED,
        consumption=consumption,
        rolled_over=rolled_over,
        anomaly=anomaly,
        submitted_by=submitted_by,
    )


def _index_checked(value, max_index: Decimal) -> Decimal:
    """The index as a Decimal on the register: from 0 up to, not including, one full turn (a
    register up to 99999 may show 99999.5 when its last drum is read to a fraction)."""
    if isinstance(value, float):
        raise TypeError("a meter index is a Decimal, never a float")
    try:
        index = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ReadingInvalid("The index is not a number.") from None
    if not index.is_finite() or index < 0 or index >= register_turn(max_index):
        raise ReadingInvalid(
            f"The index must be between 0 and {index_text(max_index)}.",
            extra={"max_index": index_text(max_index)},
        )
    if index != index.quantize(Decimal(1).scaleb(-INDEX_PLACES)):
        raise ReadingInvalid(f"The index has more than {INDEX_PLACES} decimals.")
    return index


def _read_at_check(read_at: datetime, meter: Meter) -> None:
    if timezone.is_naive(read_at):
        raise ReadingInvalid("The reading time needs a time zone.")
    if read_at > timezone.now() + FUTURE_TOLERANCE:
        raise ReadingInvalid("The reading time is in the future.")
    if read_at < meter.installed_at:
        raise ReadingInvalid("The reading is older than the meter's installation.")


def _newer_accepted(meter: Meter, read_at: datetime) -> MeterReading | None:
    """The latest accepted reading at or after `read_at`, if any."""
    accepted = MeterReading.objects.filter(
        meter=meter, status=ReadingStatus.ACCEPTED, read_at__gte=read_at
    )
    return accepted.order_by("-read_at").first()


# Sentinels standing for the values of the compiled meter_state query (never real ones).
_METER = -1_999_999_923
_BEFORE = datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=UTC)


def _meter_state_rows(meter: int, before: datetime | None = None):
    """The accepted readings meter_state measures against (those before `before` unless it is
    None), newest first: (index, consumption, is_estimated, read_at)."""
    accepted = MeterReading.objects.filter(meter_id=meter, status=ReadingStatus.ACCEPTED)
    if before is not None:
        accepted = accepted.filter(read_at__lt=before)
    real = accepted.filter(is_estimated=False)
    last_real_at = real.order_by("-read_at").values("read_at")[:1]
    recent = accepted.order_by("-read_at").values("pk")[:HISTORY_PERIODS]
    return (
        accepted.filter(
            Q(read_at__gte=Subquery(last_real_at)) | Q(pk__in=Subquery(recent)) | ~Exists(real)
        )
        .order_by("-read_at")
        .values_list("index", "consumption", "is_estimated", "read_at")
    )


# Compiled once per process and database: on a USSD hop the ORM's compiling costs more than
# the query.
_meter_state_now = CompiledQuery(_meter_state_rows, meter=Slot(_METER))
_meter_state_before = CompiledQuery(
    _meter_state_rows,
    meter=Slot(_METER),
    before=Slot(_BEFORE, MeterReading._meta.get_field("read_at")),
)


def meter_state(meter: Meter, *, before: datetime | None = None) -> MeterState:
    """What a reading of `meter` taken at `before` (now: None) is measured against, in one
    query: the accepted readings before it from the last real one on (all of them when there
    is none), and at least the last HISTORY_PERIODS, newest first. `meter` needs its pk,
    max_index and initial_index only."""
    if before is None:
        rows = _meter_state_now.rows(meter=meter.pk)
    else:
        rows = _meter_state_before.rows(meter=meter.pk, before=before)
    history = tuple(row[1] for row in rows[:HISTORY_PERIODS])
    last_real = next((n for n, row in enumerate(rows) if not row[2]), None)
    since = rows if last_real is None else rows[:last_real]
    return MeterState(
        max_index=meter.max_index,
        real_index=meter.initial_index if last_real is None else rows[last_real][0],
        estimated_since=sum((row[1] or 0 for row in since), Decimal(0)),
        history=history,
        last=(rows[0][0], rows[0][3]) if rows else None,
    )
