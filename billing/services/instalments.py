"""Instalment plans: a manager agrees how an overdue balance is paid off.

A plan covers the account's open invoices that are past their due date when it is agreed, and
its open penalties and fees; their open amount is the plan's total, which the instalments (due
dates strictly increasing, amounts positive) add up to exactly. While the plan is active,
dunning leaves the covered invoices alone, and an account suspended by rule is restored at
once.

Whether instalments arrive on time is judged from the facts, each day before dunning runs:
with the default allocation order ("charges,oldest,current") payments settle the covered
invoices before any later bill, so what is still open on the covered invoices must not exceed
the total minus every instalment due before today (an instalment due on the 10th may be paid
until the end of the 10th). Nothing left open: the plan is completed. More left than that: the
plan is broken, the customer is told, dunning resumes on the covered invoices from the stages
they have not reached yet, and if the account had been cut off for them it is suspended again.
New invoices issued after the plan are dunned as usual.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.audit import audit_record
from accounts.errors import ApplicationError
from billing.ledger import service_account_lock
from billing.models import (
    DunningEvent,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    Operator,
    PlanStatus,
    ServiceAccount,
)
from billing.models.invoices import OPEN_STATUSES
from billing.money import Money
from billing.services.dunning_messages import PLAN_BROKEN_TEXTS, date_text, fixed_text
from billing.services.service_control import account_service_review, account_suspend_for_plan
from sms.models import MessageKind
from sms.services import message_queue

MAX_INSTALMENTS = 24


class NothingOverdue(ApplicationError):
    code = "nothing_overdue"
    message = "The account has no overdue balance to spread over instalments."
    http_status = 409


class PlanExists(ApplicationError):
    code = "instalment_plan_exists"
    message = "The account already has an active instalment plan."
    http_status = 409


class InvalidPlan(ApplicationError):
    code = "invalid_instalment_plan"
    message = "The instalments do not make a valid plan."


@dataclass(frozen=True)
class InstalmentSpec:
    due_date: date
    amount: Money


def instalments_split(
    *, total: Money, count: int, first_due: date, every_days: int = 30
) -> list[InstalmentSpec]:
    """`count` equal instalments every `every_days` days; the last takes the remainder."""
    if not 1 <= count <= MAX_INSTALMENTS or every_days < 1:
        raise InvalidPlan(f"Between 1 and {MAX_INSTALMENTS} instalments, at least a day apart.")
    part = total.minor // count
    if part <= 0:
        raise InvalidPlan("Too many instalments for this amount.")
    amounts = [part] * (count - 1) + [total.minor - part * (count - 1)]
    return [
        InstalmentSpec(first_due + timedelta(days=every_days * n), Money(minor, total.currency))
        for n, minor in enumerate(amounts)
    ]


def _covered(account: ServiceAccount, today: date):
    """Open invoices past their due date, and every open penalty and fee (charges are paid
    first by the default allocation order, so they belong with the arrears)."""
    overdue = Q(due_date__lt=today) | ~Q(kind=InvoiceKind.INVOICE)
    return Invoice.objects.filter(overdue, account=account, status__in=OPEN_STATUSES)


def _open_minor(invoices) -> int:
    total = invoices.aggregate(s=Sum(F("total_minor") - F("paid_minor") - F("credited_minor")))
    return total["s"] or 0


def overdue_balance(*, account: ServiceAccount, today: date) -> Money:
    """What a plan agreed today would cover."""
    return Money(_open_minor(_covered(account, today)), account.operator.currency)


def _check(instalments: list[InstalmentSpec], total: Money, today: date) -> None:
    if not 1 <= len(instalments) <= MAX_INSTALMENTS:
        raise InvalidPlan(f"Between 1 and {MAX_INSTALMENTS} instalments.")
    dates = [spec.due_date for spec in instalments]
    if dates[0] < today or any(b <= a for a, b in pairwise(dates)):
        raise InvalidPlan("Due dates start today or later and strictly increase.")
    if any(
        spec.amount.currency != total.currency or spec.amount.minor <= 0 for spec in instalments
    ):
        raise InvalidPlan(f"Every instalment is a positive amount in {total.currency}.")
    planned = sum(spec.amount.minor for spec in instalments)
    if planned != total.minor:
        raise InvalidPlan(
            f"The instalments add up to {Money(planned, total.currency)}, "
            f"the overdue balance is {total}.",
            extra={
                "overdue": str(total.amount),
                "planned": str(Money(planned, total.currency).amount),
            },
        )


@transaction.atomic
def instalment_plan_agree(
    *, account: ServiceAccount, instalments: list[InstalmentSpec], actor
) -> InstalmentPlan:
    """Agree a plan on the account's overdue balance; restores a suspended account."""
    account = service_account_lock(account_id=account.pk)
    today = timezone.localdate(timezone=ZoneInfo(account.operator.timezone))
    covered = list(_covered(account, today))
    total = Money(sum(invoice.open_minor for invoice in covered), account.operator.currency)
    if total.minor <= 0:
        raise NothingOverdue()
    _check(instalments, total, today)
    try:
        with transaction.atomic():
            plan = InstalmentPlan.objects.create(
                operator=account.operator,
                account=account,
                currency=total.currency,
                total_minor=total.minor,
                agreed_by=actor,
            )
    except IntegrityError:
        raise PlanExists() from None
    plan.invoices.set(covered)
    Instalment.objects.bulk_create(
        Instalment(plan=plan, position=n, due_date=spec.due_date, amount_minor=spec.amount.minor)
        for n, spec in enumerate(instalments, start=1)
    )
    audit_record(
        actor=actor,
        action="instalment_plan.agree",
        instance=plan,
        after={
            "account": account.number,
            "total_minor": total.minor,
            "instalments": [[str(s.due_date), s.amount.minor] for s in instalments],
        },
    )
    account_service_review(account=account)
    return plan


def plan_standing(plan: InstalmentPlan, on_date: date) -> tuple[int, int, Instalment | None]:
    """(open on the covered invoices, most that may be open on `on_date`, first missed one)."""
    remaining = _open_minor(plan.invoices.all())
    paid = plan.total_minor - remaining
    allowed, cumulative, missed = plan.total_minor, 0, None
    for instalment in plan.instalments.all():
        cumulative += instalment.amount_minor
        if instalment.due_date < on_date:
            allowed = plan.total_minor - cumulative
            if missed is None and cumulative > paid:
                missed = instalment
    return remaining, allowed, missed


def _broken(plan: InstalmentPlan, remaining: int, missed: Instalment) -> None:
    account = plan.account
    operator = account.operator
    values = {
        "operator": operator.name,
        "account": account.number,
        "due_date": date_text(missed.due_date),
        "amount": Money(remaining, plan.currency).format(),
        "paybill": operator.paybill,
        "ussd": operator.ussd_code,
    }
    message_queue(
        to=account.owner.phone,
        body=fixed_text(PLAN_BROKEN_TEXTS, account.owner.language, values),
        kind=MessageKind.NOTICE,
        idempotency_key=f"plan-broken:{plan.pk}",
        account=account,
    )
    cut_for_these = DunningEvent.objects.filter(
        invoice__in=plan.invoices.all(), stage__suspend_service=True
    )
    if cut_for_these.exists():
        account_suspend_for_plan(plan=plan)


@transaction.atomic
def instalment_plans_review(*, operator: Operator, on_date: date) -> dict[str, int]:
    """Mark the operator's active plans completed or broken as of `on_date` (see above)."""
    counts = {"completed": 0, "broken": 0}
    plans = InstalmentPlan.objects.filter(operator=operator, status=PlanStatus.ACTIVE)
    for plan in plans.select_related("account__owner", "account__operator").select_for_update(
        of=("self",)
    ):
        remaining, allowed, missed = plan_standing(plan, on_date)
        if remaining <= 0:
            plan.status = PlanStatus.COMPLETED
        elif remaining > allowed and missed is not None:
            plan.status = PlanStatus.BROKEN
        else:
            continue
        plan.ended_at = timezone.now()
        plan.save(update_fields=["status", "ended_at"])
        counts[plan.status] += 1
        if plan.status == PlanStatus.BROKEN:
            _broken(plan, remaining, missed)
    return counts
