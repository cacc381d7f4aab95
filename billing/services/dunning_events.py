"""Recording the stages invoices reach: one set-based INSERT per policy and chunk.

`events_insert` writes a DunningEvent for every invoice of the chunk and every stage that is
due and not yet recorded, with one INSERT ... SELECT ... ON CONFLICT (invoice, stage) DO
NOTHING RETURNING per policy (its stages and their cutoff dates joined as a VALUES list): the
unique constraint decides, inside the database, which worker records an event, and only what
the statement returns acts. The insert reads without locks; once the accounts of the new
events are locked, `events_recheck` drops those whose invoice changed in between (scan
cheaply, lock, recheck, act). Works on PostgreSQL and SQLite (3.35+).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection

from billing.bulk import array_cursor, id_filter
from billing.models import (
    Dispute,
    DunningEvent,
    DunningPolicy,
    DunningStage,
    InstalmentPlan,
    Invoice,
    ServiceAccount,
)
from billing.models.invoices import OPEN_STATUSES


@dataclass(frozen=True)
class PolicyScope:
    """A policy's stages (by offset) and the tariffs it governs."""

    policy: DunningPolicy
    stages: list[DunningStage]
    tariff_ids: list[int]  # the tariff of a tariff policy, else those the default leaves out
    is_default: bool


NEVER = date(1, 1, 1)  # a cutoff no due date is on or before


@dataclass(frozen=True)
class NewEvent:
    id: int
    invoice_id: int
    account_id: int
    superseded: bool
    stage: DunningStage


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _dunnable() -> str:
    """WHERE conditions (on invoice i joined to its account a) for an invoice that dunning may
    act on now: open, periodic, something left to pay, account not closed, no open dispute,
    not covered by an active instalment plan."""
    through = InstalmentPlan.invoices.through._meta
    plan_fk, invoice_fk = (through.get_field(n).column for n in ("instalmentplan", "invoice"))
    open_statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)
    return f"""
        i.kind = 'invoice' AND i.status IN ({open_statuses})
        AND i.total_minor - i.paid_minor - i.credited_minor > 0 AND a.status <> 'closed'
        AND NOT EXISTS (SELECT 1 FROM {_q(Dispute._meta.db_table)} d
                         WHERE d.account_id = i.account_id AND d.closed_at IS NULL)
        AND NOT EXISTS (SELECT 1 FROM {_q(through.db_table)} pi
                          JOIN {_q(InstalmentPlan._meta.db_table)} p ON p.id = pi.{plan_fk}
                         WHERE pi.{invoice_fk} = i.id AND p.status = 'active')
    """  # noqa: S608 - table names from _meta


def _tables() -> str:
    invoice, account = Invoice._meta.db_table, ServiceAccount._meta.db_table
    return f"{_q(invoice)} i JOIN {_q(account)} a ON a.id = i.account_id"


def _insert_sql(scope: PolicyScope, *, bounded: bool) -> str:
    """`todo`: the chunk's invoices whose latest due stage is not recorded yet (one index probe
    per invoice); then one event per due stage of each, conflicts skipped."""
    event = _q(DunningEvent._meta.db_table)
    tariffs = ""
    if scope.tariff_ids:
        marks = ", ".join(["%s"] * len(scope.tariff_ids))
        tariffs = f"AND a.tariff_id {'NOT IN' if scope.is_default else 'IN'} ({marks})"
    stages = ", ".join(["(%s, %s, %s)"] * len(scope.stages))
    return f"""
        WITH s (stage_id, cutoff, next_cutoff) AS (VALUES {stages}),
        todo AS (
            SELECT i.id, i.account_id, i.due_date FROM {_tables()}
             WHERE i.operator_id = %s AND i.id > %s {"AND i.id <= %s" if bounded else ""}
               {tariffs} AND {_dunnable()}
               AND NOT EXISTS (
                   SELECT 1 FROM {event} e JOIN s AS latest ON latest.stage_id = e.stage_id
                    WHERE e.invoice_id = i.id
                      AND i.due_date <= latest.cutoff AND i.due_date > latest.next_cutoff)
        )
        INSERT INTO {event} (invoice_id, stage_id, account_id, run_date, superseded, created_at)
        SELECT todo.id, s.stage_id, todo.account_id, %s, todo.due_date <= s.next_cutoff, %s
          FROM todo JOIN s ON todo.due_date <= s.cutoff
         WHERE TRUE
        ON CONFLICT (invoice_id, stage_id) DO NOTHING
        RETURNING id, invoice_id, account_id, stage_id, superseded
    """  # noqa: S608 - table names from _meta, values bound


def events_insert(
    *, scope: PolicyScope, ids: tuple[int, int | None], on_date: date, now: datetime
) -> list[NewEvent]:
    """Record every stage of the policy that the invoices with ids in (low, high] have reached
    on `on_date` and that is not recorded yet (one statement); a stage is superseded when the
    next one is due too. The new events, in stage order.

    Every run records all the stages due at once, so an invoice whose latest due stage is
    recorded has nothing to do and is passed over with one index probe. (A stage added to a
    policy therefore applies to the invoices that have not yet reached a later stage.)"""
    day = connection.ops.adapt_datefield_value
    stages = {stage.pk: stage for stage in scope.stages}
    params = []
    for stage, later in zip(scope.stages, [*scope.stages[1:], None], strict=True):
        # An invoice has reached a stage when its due date is on or before the cutoff.
        next_cutoff = on_date - timedelta(days=later.offset_days) if later else NEVER
        cutoff = on_date - timedelta(days=stage.offset_days)
        params += [stage.pk, day(cutoff), day(next_cutoff)]
    low, high = ids
    params += [scope.policy.operator_id, low] + ([] if high is None else [high])
    params += [*scope.tariff_ids, day(on_date), connection.ops.adapt_datetimefield_value(now)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(scope, bounded=high is not None), params)
        rows = cursor.fetchall()
    events = [NewEvent(row[0], row[1], row[2], bool(row[4]), stages[row[3]]) for row in rows]
    return sorted(events, key=lambda event: (event.stage.offset_days, event.invoice_id))


def events_recheck(events: list[NewEvent]) -> list[NewEvent]:
    """After the accounts are locked: keep the events whose invoice dunning may still act on,
    and delete the others (this transaction's own rows: a payment, a dispute or a plan that
    committed between the insert and the lock)."""
    if not events:
        return []
    invoices, params = id_filter("i.id", sorted({event.invoice_id for event in events}))
    sql = f"SELECT i.id FROM {_tables()} WHERE {invoices} AND {_dunnable()}"  # noqa: S608
    with array_cursor() as cursor:
        cursor.execute(sql, params)
        still = {row[0] for row in cursor.fetchall()}
    gone = [event.id for event in events if event.invoice_id not in still]
    if gone:
        DunningEvent.objects.filter(pk__in=gone).delete()
    return [event for event in events if event.invoice_id in still]
