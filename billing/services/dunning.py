"""The daily dunning run: each open invoice goes through its policy's stages, once each.

The schedule is worked out from the facts on every run, never from a cursor: stage S of a
policy is due for an invoice on day T when T >= due date + S.offset_days and the invoice is
still open (a periodic invoice, status issued/partially paid/overdue, something left to pay),
its account is not closed, has no open dispute, and the invoice is not covered by an active
instalment plan. Each due stage is recorded once as a DunningEvent (unique per invoice and
stage: INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING), and only the rows that insert
returns act, so a rerun or a second worker does nothing twice.

Catching up (the job did not run for days, a dispute was closed, an instalment plan broke):
every stage that became due is recorded once, in order of its offset; all their penalties,
suspensions and work orders are carried out, but only the latest due stage's message is
sent — the earlier ones are recorded as `superseded` (a "bill due soon" text after the due
date, or a reminder next to the final notice, would only confuse). A payment that settles
the invoice stops every later stage (the invoice is no longer open); a partial payment does
not, and each message quotes what is left at that moment (the invoice plus its penalty).

A run works through the operator's candidate invoices in chunks of consecutive ids, each in
one transaction with a fixed number of statements: per policy one INSERT ... SELECT; then, if
anything is new, the accounts of the new events are locked and the events rechecked (so a
payment recorded meanwhile either committed before the recheck, which drops the event, or
waits for the chunk); one bulk write of the messages to the outbox (the SMS pipeline's
dispatcher sends them, respecting quiet hours and opt-outs); and the penalties in bulk
(dunning_penalties), last because their gap-free numbers lock a row until the commit.
Suspensions (rare: one per cut-off account, with its work order, audit event and meter
command) are made one by one. A dry run does all of this and rolls every chunk back; only an
operator's missing default policy is created for real (it is configuration).

On PostgreSQL the bulk statements take their values as arrays bound on the server (= ANY,
INSERT ... SELECT FROM unnest), so a chunk's cost is the database's work plus a few
microseconds of Python per invoice; `workers` runs chunks in forked processes side by side.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta

from django.db import connection, connections, transaction
from django.utils import timezone

from billing.bulk import array_cursor, id_filter
from billing.models import (
    DunningPolicy,
    Invoice,
    InvoiceKind,
    Operator,
    ServiceAccount,
)
from billing.models.invoices import OPEN_STATUSES
from billing.money import Money
from billing.services.dunning_events import (
    NewEvent,
    PolicyScope,
    events_insert,
    events_recheck,
)
from billing.services.dunning_messages import (
    StageTexts,
    date_text,
    stage_message_key,
    stage_template,
)
from billing.services.dunning_penalties import PenaltyTerms, penalties_due, penalties_post
from billing.services.dunning_policies import dunning_policy_default_ensure
from billing.services.instalments import instalment_plans_review
from billing.services.service_control import account_suspend_for_event, visit_orders_create
from sms.services import MessageSpec, message_queue_bulk

logger = logging.getLogger(__name__)

CHUNK_SIZE = 5000
COUNTS = ("events", "superseded", "messages", "penalties", "suspensions", "visits")


def policy_scopes(operator: Operator) -> list[PolicyScope]:
    """The operator's active policies with stages; the default is created if it has none."""
    dunning_policy_default_ensure(operator=operator)
    policies = DunningPolicy.objects.filter(operator=operator, is_active=True)
    policies = list(policies.prefetch_related("stages").order_by("pk"))
    own = [policy.tariff_id for policy in policies if policy.tariff_id is not None]
    return [
        PolicyScope(
            policy=policy,
            stages=sorted(policy.stages.all(), key=lambda stage: stage.offset_days),
            tariff_ids=own if policy.tariff_id is None else [policy.tariff_id],
            is_default=policy.tariff_id is None,
        )
        for policy in policies
        if policy.stages.all()
    ]


def _candidates(operator: Operator, on_date: date, scopes: list[PolicyScope]):
    earliest = min(stage.offset_days for scope in scopes for stage in scope.stages)
    return Invoice.objects.filter(
        operator=operator,
        kind=InvoiceKind.INVOICE,
        status__in=OPEN_STATUSES,
        due_date__lte=on_date - timedelta(days=earliest),
    )


def _ranges(queryset, size: int) -> list[tuple[int, int | None, int]]:
    """(low, high, count): consecutive id ranges (low, high] of `size` rows; one streamed
    query, only every size-th id kept."""
    stream = queryset.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=10 * size)
    bounds, total = [], 0
    for total, pk in enumerate(stream, start=1):
        if total % size == 0:
            bounds.append(pk)
    counts = [size] * len(bounds) + [total - size * len(bounds)]
    ranges = zip([0, *bounds], [*bounds, None], counts, strict=True)
    return [r for r in ranges if r[2]]


def _facts_sql(invoices: str) -> str:
    invoice, account = Invoice._meta.db_table, ServiceAccount._meta.db_table
    user = ServiceAccount._meta.get_field("owner").related_model._meta.db_table
    statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)
    return f"""
        SELECT i.id, i.number, i.due_date, i.currency,
               i.total_minor - i.paid_minor - i.credited_minor,
               COALESCE((SELECT p.total_minor - p.paid_minor - p.credited_minor
                           FROM {invoice} p
                          WHERE p.related_id = i.id AND p.kind = 'penalty'
                            AND p.status IN ({statuses}) LIMIT 1), 0),
               a.number, u.phone, u.language
          FROM {invoice} i JOIN {account} a ON a.id = i.account_id
          LEFT JOIN {user} u ON u.id = a.owner_id
         WHERE {invoices}
    """  # noqa: S608 - table names from _meta, values bound


def _facts(operator: Operator, invoice_ids: list[int], new: dict[int, int]) -> dict:
    """Who to text about each invoice and the placeholder values of its message (one query):
    {invoice id: (phone, language, values)}. The amount is what is left to pay: the invoice,
    its penalty, and `new` penalties about to be charged ({invoice id: minor units})."""
    invoices, params = id_filter("i.id", invoice_ids)
    with array_cursor() as cursor:
        cursor.execute(_facts_sql(invoices), params)
        rows = cursor.fetchall()
    shared = {"paybill": operator.paybill, "ussd": operator.ussd_code, "operator": operator.name}
    facts = {}
    for pk, number, due, currency, open_, penalty_open, account, phone, language in rows:
        due = due if isinstance(due, date) else date.fromisoformat(due)
        amount = Money(open_ + penalty_open + new.get(pk, 0), currency)
        values = {
            "amount": amount.format(),
            "due_date": date_text(due),
            "account": account,
            "invoice": number,
            **shared,
        }
        facts[pk] = (phone, language, values)
    return facts


def _messages(operator, stage, events: list[NewEvent], new: dict[int, int]) -> int:
    """Queue the stage's message for each event (one bulk write to the outbox)."""
    if not events or not stage_template(stage, "en"):
        return 0
    facts = _facts(operator, [event.invoice_id for event in events], new)
    texts = StageTexts(stage)
    messages = []
    for event in events:
        phone, language, values = facts[event.invoice_id]
        messages.append(
            MessageSpec(
                to=phone,
                body=texts.render(language, values),
                kind=stage.message_kind,
                idempotency_key=stage_message_key(event.invoice_id, stage.pk),
                account_id=event.account_id,
            )
        )
    return message_queue_bulk(operator=operator, messages=messages)


def _act(operator: Operator, on_date: date, events: list[NewEvent], terms) -> Counter:
    """Carry out the actions of one stage's new events: penalty, suspension, visit, message
    (superseded events take every action but the message). The penalties are written last:
    their gap-free numbers lock a row until the chunk commits."""
    stage = events[0].stage
    counts = Counter(events=len(events), superseded=sum(e.superseded for e in events))
    charges = []
    if stage.charge_penalty:
        ids = [event.invoice_id for event in events]
        charges = penalties_due(invoice_ids=ids, on_date=on_date, terms=terms)
    if stage.suspend_service:
        for event in events:
            counts["suspensions"] += account_suspend_for_event(
                account_id=event.account_id, event_id=event.id
            )
    elif stage.field_visit:
        pairs = [(event.id, event.account_id) for event in events]
        counts["visits"] = visit_orders_create(operator=operator, events=pairs)
    new = {charge.invoice_id: charge.amount.minor for charge in charges}
    to_send = [event for event in events if not event.superseded]
    counts["messages"] = _messages(operator, stage, to_send, new)
    penalties_post(operator=operator, charges=charges, on_date=on_date, terms=terms)
    counts["penalties"] = len(charges)
    return counts


def _accounts_lock(ids: list[int]) -> None:
    """Lock the accounts' rows, in id order (payments take the same lock)."""
    table = connection.ops.quote_name(ServiceAccount._meta.db_table)
    accounts, params = id_filter("id", ids)
    sql = f"SELECT id FROM {table} WHERE {accounts} ORDER BY id FOR UPDATE"  # noqa: S608
    if connection.vendor != "postgresql":  # SQLite locks the whole database when it writes
        sql = sql.removesuffix(" FOR UPDATE")
    with array_cursor() as cursor:
        cursor.execute(sql, params)


def _chunk(operator, on_date, ids, scopes, terms, dry_run) -> dict[str, Counter]:
    """One chunk in one transaction (rolled back in a dry run); counts per stage code.

    The events are inserted first (reading without locks); only if there are new ones are
    their accounts locked, in id order, and the events rechecked, so a chunk with nothing
    new (most of them, most days) takes no lock at all."""
    low, high, _ = ids
    now = timezone.now()
    per_stage: dict[str, Counter] = {}
    with transaction.atomic():
        events = [
            event
            for scope in scopes
            for event in events_insert(scope=scope, ids=(low, high), on_date=on_date, now=now)
        ]
        if events:
            _accounts_lock(sorted({event.account_id for event in events}))
            events = events_recheck(events)
        for stage in (stage for scope in scopes for stage in scope.stages):
            mine = [event for event in events if event.stage.pk == stage.pk]
            if mine:
                per_stage[stage.code] = _act(operator, on_date, mine, terms)
        if dry_run:
            transaction.set_rollback(True)
    return per_stage


_JOB = None  # what the forked workers of _chunks_run work on (set before the fork)


def _chunk_in_worker(ids):
    operator, on_date, scopes, terms, dry_run = _JOB
    return ids, _chunk(operator, on_date, ids, scopes, terms, dry_run)


def _chunks_run(job, ranges, workers: int):
    """(ids, counts per stage) of each chunk, in this process or in `workers` forked ones.

    Chunks are independent transactions, so they may run side by side: each locks its
    accounts in id order before anything else, the event's unique constraint decides what is
    new, and the penalty number block (the one lock chunks share) is taken last, by a chunk
    that already holds all its other locks, so two chunks never wait for each other in a
    cycle. The database connection is closed before the fork; each worker opens its own."""
    global _JOB
    if workers <= 1 or len(ranges) < 2 or connection.vendor != "postgresql":
        operator, on_date, scopes, terms, dry_run = job
        for ids in ranges:
            yield ids, _chunk(operator, on_date, ids, scopes, terms, dry_run)
        return
    _JOB = job
    connections.close_all()
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(ranges))) as pool:
            yield from pool.imap_unordered(_chunk_in_worker, ranges)
    finally:
        _JOB = None


def dunning_run(
    *,
    operator: Operator,
    on_date: date,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    workers: int = 1,
) -> dict:
    """Dun the operator's invoices as of its local date `on_date` (instalment plans first).

    `workers` > 1 runs the chunks in that many forked processes (PostgreSQL only; not from a
    daemonic process such as a Celery prefork child).

    Returns {"invoices": candidates looked at, "plans": {"completed", "broken"}, "totals":
    {count: n}, "stages": {stage code: {count: n}}} with the counts named in COUNTS.
    `progress` is called with the number of candidate invoices after each chunk.
    """
    with transaction.atomic():
        plans = instalment_plans_review(operator=operator, on_date=on_date)
        if dry_run:
            transaction.set_rollback(True)
    scopes = policy_scopes(operator)
    totals, stages, looked_at = Counter(), {}, 0
    if scopes:
        terms = PenaltyTerms.of(operator)
        ranges = _ranges(_candidates(operator, on_date, scopes), chunk_size)
        job = (operator, on_date, scopes, terms, dry_run)
        for ids, per_stage in _chunks_run(job, ranges, workers):
            for code, counts in per_stage.items():
                stages.setdefault(code, Counter()).update(counts)
                totals.update(counts)
            looked_at += ids[2]
            if progress is not None:
                progress(ids[2])
    summary = {
        "invoices": looked_at,
        "plans": plans,
        "totals": {name: totals.get(name, 0) for name in COUNTS},
        "stages": {code: {n: c.get(n, 0) for n in COUNTS} for code, c in stages.items()},
    }
    logger.info("dunning run", extra={"operator": operator.slug, "date": str(on_date), **summary})
    return summary


def dunning_candidates(*, operator: Operator, on_date: date):
    """The open invoices a run on `on_date` looks at (for a progress bar's total)."""
    scopes = policy_scopes(operator)
    return _candidates(operator, on_date, scopes) if scopes else Invoice.objects.none()
