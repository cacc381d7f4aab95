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
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

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
    MessageFacts,
    stage_message_key,
    stage_message_text,
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


def _facts(operator: Operator, invoice_ids: list[int], new: dict[int, int]) -> dict:
    """Who to text about each invoice and what is left to pay on it: the invoice, its penalty,
    and `new` penalties about to be charged ({invoice id: minor units})."""
    penalty = Invoice.objects.filter(
        related=OuterRef("pk"), kind=InvoiceKind.PENALTY, status__in=OPEN_STATUSES
    ).values(open=F("total_minor") - F("paid_minor") - F("credited_minor"))
    rows = Invoice.objects.filter(pk__in=invoice_ids).values_list(
        "pk",
        "number",
        "due_date",
        "currency",
        F("total_minor") - F("paid_minor") - F("credited_minor"),
        Coalesce(Subquery(penalty[:1]), Value(0)),
        "account__number",
        "account__owner__phone",
        "account__owner__language",
    )
    facts = {}
    for pk, number, due, currency, open_, penalty_open, account, phone, language in rows:
        facts[pk] = MessageFacts(
            phone=phone,
            language=language,
            amount=Money(open_ + penalty_open + new.get(pk, 0), currency),
            due_date=due,
            account=account,
            invoice=number,
            paybill=operator.paybill,
            ussd=operator.ussd_code,
            operator=operator.name,
        )
    return facts


def _messages(operator, stage, events: list[NewEvent], new: dict[int, int]) -> int:
    """Queue the stage's message for each event (one bulk write to the outbox)."""
    if not events or not stage_template(stage, "en"):
        return 0
    facts = _facts(operator, [event.invoice_id for event in events], new)
    return message_queue_bulk(
        operator=operator,
        messages=[
            MessageSpec(
                to=facts[event.invoice_id].phone,
                body=stage_message_text(stage, facts[event.invoice_id]),
                kind=stage.message_kind,
                idempotency_key=stage_message_key(event.invoice_id, stage.pk),
                account_id=event.account_id,
            )
            for event in events
        ],
    )


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
            accounts = ServiceAccount.objects.filter(pk__in={e.account_id for e in events})
            list(accounts.order_by("pk").select_for_update().values_list("pk", flat=True))
            events = events_recheck(events)
        for stage in (stage for scope in scopes for stage in scope.stages):
            mine = [event for event in events if event.stage.pk == stage.pk]
            if mine:
                per_stage[stage.code] = _act(operator, on_date, mine, terms)
        if dry_run:
            transaction.set_rollback(True)
    return per_stage


def dunning_run(
    *,
    operator: Operator,
    on_date: date,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> dict:
    """Dun the operator's invoices as of its local date `on_date` (instalment plans first).

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
        for ids in _ranges(_candidates(operator, on_date, scopes), chunk_size):
            for code, counts in _chunk(operator, on_date, ids, scopes, terms, dry_run).items():
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
