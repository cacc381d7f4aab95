"""Reads for staff: an account's dunning status, and the arrears ageing report.

Ageing: every open invoice, penalty and fee past its due date is aged by whole days since the
due date as of the operator's local date: 1-30 days in "0-30", 31-60, 61-90, and over 90 in
"90+" (an invoice due today is not in arrears yet). Amounts are what is open on each invoice
now, summed per account in SQL (one GROUP BY), in the operator's currency.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Case, F, IntegerField, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from billing.models import (
    Dispute,
    DunningEvent,
    DunningPolicy,
    DunningStage,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    Operator,
    PlanStatus,
    ServiceAccount,
    Suspension,
)
from billing.models.invoices import OPEN_STATUSES

# (field, label, fewest days overdue, most days overdue)
BUCKETS = (
    ("days_0_30", "0-30", 1, 30),
    ("days_31_60", "31-60", 31, 60),
    ("days_61_90", "61-90", 61, 90),
    ("days_90_plus", "90+", 91, None),
)


def account_policy(account: ServiceAccount) -> DunningPolicy | None:
    """The active policy that duns the account: its tariff's, else its operator's default."""
    policies = DunningPolicy.objects.filter(operator_id=account.operator_id, is_active=True)
    return (
        policies.filter(tariff_id=account.tariff_id).first()
        or policies.filter(tariff__isnull=True).first()
    )


@dataclass(frozen=True)
class InvoiceDunning:
    invoice: Invoice
    reached: list[str]  # stage codes recorded, in offset order
    next_stage: DunningStage | None
    next_date: date | None
    in_plan: bool


@dataclass(frozen=True)
class AccountDunning:
    account: ServiceAccount
    policy: DunningPolicy | None
    dispute: Dispute | None
    plan: InstalmentPlan | None
    suspension: Suspension | None
    invoices: list[InvoiceDunning]

    @property
    def paused(self) -> bool:
        return self.dispute is not None or any(item.in_plan for item in self.invoices)


def account_dunning_status(account: ServiceAccount) -> AccountDunning:
    policy = account_policy(account)
    stages = list(policy.stages.order_by("offset_days")) if policy else []
    plan = (
        InstalmentPlan.objects.filter(account=account, status=PlanStatus.ACTIVE)
        .prefetch_related("instalments")
        .first()
    )
    covered = set(plan.invoices.values_list("pk", flat=True)) if plan else set()
    invoices = Invoice.objects.filter(
        account=account, kind=InvoiceKind.INVOICE, status__in=OPEN_STATUSES
    ).order_by("due_date", "pk")
    reached: dict[int, set[int]] = {}
    for invoice_id, stage_id in DunningEvent.objects.filter(invoice__in=invoices).values_list(
        "invoice_id", "stage_id"
    ):
        reached.setdefault(invoice_id, set()).add(stage_id)
    items = []
    for invoice in invoices:
        done = reached.get(invoice.pk, set())
        upcoming = [stage for stage in stages if stage.pk not in done]
        next_stage = upcoming[0] if upcoming else None
        items.append(
            InvoiceDunning(
                invoice=invoice,
                reached=[stage.code for stage in stages if stage.pk in done],
                next_stage=next_stage,
                next_date=(
                    invoice.due_date + timedelta(days=next_stage.offset_days)
                    if next_stage
                    else None
                ),
                in_plan=invoice.pk in covered,
            )
        )
    return AccountDunning(
        account=account,
        policy=policy,
        dispute=Dispute.objects.filter(account=account, closed_at__isnull=True).first(),
        plan=plan,
        suspension=Suspension.objects.filter(account=account, ended_at__isnull=True).first(),
        invoices=items,
    )


def _bucket(low: int, high: int | None, as_of: date) -> Sum:
    open_minor = F("total_minor") - F("paid_minor") - F("credited_minor")
    window = {"due_date__lte": as_of - timedelta(days=low)}
    if high is not None:
        window["due_date__gte"] = as_of - timedelta(days=high)
    case = Case(When(then=open_minor, **window), default=Value(0), output_field=IntegerField())
    return Coalesce(Sum(case), Value(0))


def arrears_ageing(*, operator: Operator, as_of: date) -> QuerySet:
    """One row per account in arrears: account id, number, holder, zone, the buckets (by their
    field names, minor units) and "total", largest total first."""
    buckets = {name: _bucket(low, high, as_of) for name, _, low, high in BUCKETS}
    open_minor = F("total_minor") - F("paid_minor") - F("credited_minor")
    return (
        Invoice.objects.filter(operator=operator, status__in=OPEN_STATUSES, due_date__lt=as_of)
        .values("account_id", "account__number", "account__holder_name", "account__zone")
        .annotate(**buckets, total=Sum(open_minor))
        .filter(total__gt=0)
        .order_by("-total", "account__number")
    )


def arrears_ageing_totals(*, operator: Operator, as_of: date) -> dict[str, int]:
    """The buckets (by field name) and "total" over every account (one aggregate)."""
    buckets = {name: _bucket(low, high, as_of) for name, _, low, high in BUCKETS}
    open_minor = F("total_minor") - F("paid_minor") - F("credited_minor")
    rows = Invoice.objects.filter(operator=operator, status__in=OPEN_STATUSES, due_date__lt=as_of)
    totals = rows.aggregate(**buckets, total=Coalesce(Sum(open_minor), Value(0)))
    return {key: int(value or 0) for key, value in totals.items()}
