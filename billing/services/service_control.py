"""Cutting and restoring service by rule: suspensions, work orders and the meter-command hook.

A dunning stage with `suspend_service` (or a broken instalment plan) suspends the account: a
Suspension row (at most one open per account), the account's status, a disconnection work
order for technicians, and the meter-command hook called after commit (billing.meter_commands;
a hook that acts remotely completes the work order itself).

`account_service_review` restores an account suspended by rule as soon as the customer owes
nothing (balance <= 0) or a manager has agreed an instalment plan; the payments path calls it
after every payment. Restoring ends the suspension, reactivates the account, cancels the
disconnection order if nobody has carried it out yet (or else opens a reconnection order),
charges the tariff's reconnection fee, if any, as a fee invoice, and texts the customer.
Accounts suspended by hand (no open Suspension) are never restored automatically.
"""

import logging
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.errors import ApplicationError
from billing.ledger import Posting, ledger_account_get, ledger_post, service_account_lock
from billing.meter_commands import MeterCommand, meter_command_hook_get
from billing.models import (
    AccountStatus,
    InstalmentPlan,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    JournalKind,
    LedgerAccountKind,
    LineKind,
    Operator,
    PlanStatus,
    ServiceAccount,
    Suspension,
    SuspensionReason,
    TariffVersion,
    WorkOrder,
    WorkOrderKind,
    WorkOrderStatus,
)
from billing.money import ROUNDING, Money
from billing.selectors import account_balance
from billing.sequences import document_number, sequence_take
from billing.services.dunning_messages import (
    RECONNECTED_TEXTS,
    RECONNECTION_FEE_TEXTS,
    fixed_text,
)
from billing.services.payments import customer_credit_apply
from sms.models import MessageKind
from sms.services import message_queue

logger = logging.getLogger(__name__)


class WorkOrderClosed(ApplicationError):
    code = "work_order_closed"
    message = "This work order is already done or cancelled."
    http_status = 409


def _dispatch_on_commit(work_order: WorkOrder) -> None:
    from billing.tasks import work_order_dispatch_task

    transaction.on_commit(lambda: work_order_dispatch_task.delay(work_order.pk))


def _status_set(account: ServiceAccount, status: str, action: str) -> None:
    before = {"status": account.status}
    account.status = status
    account.save(update_fields=["status"])
    audit_record(
        actor=None, action=action, instance=account, before=before, after={"status": status}
    )


def _suspend(account: ServiceAccount, suspension: Suspension, reason: str) -> None:
    _status_set(account, AccountStatus.SUSPENDED, "service_account.suspend")
    order = WorkOrder.objects.create(
        operator_id=account.operator_id,
        account=account,
        kind=WorkOrderKind.DISCONNECT,
        suspension=suspension,
        event_id=suspension.event_id,
        reason=reason,
    )
    _dispatch_on_commit(order)
    logger.info("account suspended", extra={"account": account.number, "reason": reason})


def account_suspend_for_event(*, account_id: int, event_id: int) -> int:
    """Suspend an active account for a dunning event; 1 if suspended, 0 if it already was.
    The caller (the dunning run) holds the account's row lock."""
    account = ServiceAccount.objects.get(pk=account_id)
    open_ = Suspension.objects.filter(account_id=account_id, ended_at__isnull=True).exists()
    if account.status != AccountStatus.ACTIVE or open_:
        return 0
    suspension = Suspension.objects.create(
        account=account, reason=SuspensionReason.DUNNING, event_id=event_id
    )
    _suspend(account, suspension, "Unpaid bill: final dunning stage.")
    return 1


@transaction.atomic
def account_suspend_for_plan(*, plan: InstalmentPlan) -> Suspension | None:
    """Suspend the account again when the instalment plan that restored it is broken."""
    account = service_account_lock(account_id=plan.account_id)
    if account.status != AccountStatus.ACTIVE:
        return None
    if Suspension.objects.filter(account=account, ended_at__isnull=True).exists():
        return None
    suspension, created = Suspension.objects.get_or_create(
        plan=plan, defaults={"account": account, "reason": SuspensionReason.PLAN_BROKEN}
    )
    if created:
        _suspend(account, suspension, "Instalment plan broken.")
    return suspension if created else None


def visit_orders_create(*, operator: Operator, events: list[tuple[int, int]]) -> int:
    """A field-visit work order per (dunning event id, account id)."""
    WorkOrder.objects.bulk_create(
        WorkOrder(
            operator=operator,
            account_id=account_id,
            kind=WorkOrderKind.VISIT,
            event_id=event_id,
            reason="Overdue bill: visit the customer.",
        )
        for event_id, account_id in events
    )
    return len(events)


def _reconnection_fee(account: ServiceAccount, today) -> Invoice | None:
    """A fee invoice for the tariff's reconnection fee (version in force today), if any."""
    version = (
        TariffVersion.objects.filter(tariff_id=account.tariff_id, effective_from__lte=today)
        .order_by("-effective_from")
        .first()
    )
    fee = version.reconnection_fee if version else Decimal(0)
    operator = account.operator
    amount = Money.from_decimal(fee, operator.currency, rounding=ROUNDING)
    if amount.minor <= 0:
        return None
    (number,) = sequence_take(operator=operator, kind="fee")
    invoice = Invoice.objects.create(
        operator=operator,
        account=account,
        kind=InvoiceKind.FEE,
        number=document_number(operator=operator, kind="fee", number=number),
        status=InvoiceStatus.ISSUED,
        issue_date=today,
        due_date=today + timedelta(days=operator.invoice_due_days),
        currency=amount.currency,
        total_minor=amount.minor,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        position=1,
        kind=LineKind.RECONNECTION,
        description="Reconnection fee",
        unit_price=amount.amount,
        amount_minor=amount.minor,
    )

    def ledger(kind: str, **where):
        return ledger_account_get(operator=operator, kind=kind, currency=amount.currency, **where)

    ledger_post(
        operator=operator,
        kind=JournalKind.FEE,
        source_type="fee",
        source_id=invoice.pk,
        postings=[
            Posting(ledger(LedgerAccountKind.RECEIVABLE, service_account=account), amount.minor),
            Posting(ledger(LedgerAccountKind.FEE_INCOME), -amount.minor),
        ],
        memo=f"Reconnection fee {invoice.number}",
    )
    customer_credit_apply(account=account)
    return invoice


def _restore(account: ServiceAccount, suspension: Suspension, why: str) -> None:
    operator = account.operator
    suspension.ended_at = timezone.now()
    suspension.ended_reason = why
    suspension.save(update_fields=["ended_at", "ended_reason"])
    if account.status == AccountStatus.SUSPENDED:
        _status_set(account, AccountStatus.ACTIVE, "service_account.reconnect")
    disconnect = suspension.work_orders.filter(kind=WorkOrderKind.DISCONNECT).first()
    if disconnect is not None and disconnect.status == WorkOrderStatus.OPEN:
        disconnect.status = WorkOrderStatus.CANCELLED
        disconnect.notes = "Cancelled: service restored before the disconnection."
        disconnect.save(update_fields=["status", "notes"])
    else:
        order = WorkOrder.objects.create(
            operator=operator,
            account=account,
            kind=WorkOrderKind.RECONNECT,
            suspension=suspension,
            reason="Service restored: reconnect the supply.",
        )
        _dispatch_on_commit(order)
    today = timezone.localdate(timezone=ZoneInfo(operator.timezone))
    fee = _reconnection_fee(account, today)
    language = account.owner.language
    values = {"operator": operator.name, "account": account.number}
    text = fixed_text(RECONNECTED_TEXTS, language, values)
    if fee is not None:
        amount = Money(fee.total_minor, fee.currency).format()
        text += fixed_text(RECONNECTION_FEE_TEXTS, language, {"amount": amount})
    message_queue(
        to=account.owner.phone,
        body=text,
        kind=MessageKind.NOTICE,
        idempotency_key=f"reconnected:{suspension.pk}",
        account=account,
    )
    logger.info("account restored", extra={"account": account.number, "why": why})


@transaction.atomic
def account_service_review(*, account: ServiceAccount) -> Suspension | None:
    """Restore the account if it is suspended by rule and the customer owes nothing or has an
    agreed instalment plan; returns the suspension ended, else None. Safe to call any time."""
    if not Suspension.objects.filter(account_id=account.pk, ended_at__isnull=True).exists():
        return None  # the usual case, one query on every payment
    account = service_account_lock(account_id=account.pk)
    suspension = Suspension.objects.filter(account=account, ended_at__isnull=True).first()
    if suspension is None:
        return None
    if account_balance(account).minor <= 0:
        why = "paid"
    elif InstalmentPlan.objects.filter(account=account, status=PlanStatus.ACTIVE).exists():
        why = "plan"
    else:
        return None
    _restore(account, suspension, why)
    return suspension


@transaction.atomic
def work_order_complete(*, work_order: WorkOrder, actor, notes: str = "") -> WorkOrder:
    """A technician reports the job done. Completing twice is refused (WorkOrderClosed)."""
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if WorkOrderStatus.DONE not in WorkOrderStatus.transitions()[work_order.status]:
        raise WorkOrderClosed(extra={"status": work_order.status})
    before = {"status": work_order.status}
    work_order.status = WorkOrderStatus.DONE
    work_order.completed_at = timezone.now()
    work_order.completed_by = actor
    work_order.notes = "\n".join(part for part in (work_order.notes, notes) if part)
    work_order.save(update_fields=["status", "completed_at", "completed_by", "notes"])
    audit_record(
        actor=actor,
        action="work_order.complete",
        instance=work_order,
        before=before,
        after={"status": work_order.status, "notes": notes},
    )
    return work_order


@transaction.atomic
def work_order_dispatch(*, work_order_id: int) -> WorkOrder | None:
    """Send an open disconnect/reconnect order to the meter-command hook; a hook that acted
    completes it. MeterCommandUnavailable propagates (the task retries)."""
    order = (
        WorkOrder.objects.select_for_update(of=("self",))
        .select_related("account__operator")
        .filter(pk=work_order_id)
        .first()
    )
    if order is None or order.status != WorkOrderStatus.OPEN or order.kind == WorkOrderKind.VISIT:
        return order
    account = order.account
    serials = account.meters.filter(removed_at__isnull=True).values_list("serial", flat=True)
    command = MeterCommand(
        action=order.kind,
        reference=f"work-order:{order.pk}",
        operator=account.operator.slug,
        account_number=account.number,
        utility=account.utility,
        meter_serials=tuple(sorted(serials)),
    )
    result = meter_command_hook_get().send(command)
    if result.done:
        order.status = WorkOrderStatus.DONE
        order.completed_at = timezone.now()
    order.notes = "\n".join(part for part in (order.notes, result.detail) if part)
    order.save(update_fields=["status", "completed_at", "notes"])
    return order
