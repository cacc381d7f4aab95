"""Payments: recorded once per (source, reference), allocated to open invoices, reversible.

Allocation follows the operator's `allocation_order`, a comma-separated list of buckets:
"charges" (penalties and fees), "oldest" (arrears, earliest due date first) and "current" (the
account's latest invoice). Buckets left out of the setting come after the listed ones, in that
default order, so money never waits in credit while an invoice is open. What no open invoice
takes becomes customer credit, which `customer_credit_apply` hands to invoices issued later.

Ledger (see billing.ledger): a payment posts Dr clearing/cash/suspense for the whole amount,
Cr receivable for what was allocated and Cr customer credit for the rest; applying credit
posts Dr customer credit / Cr receivable. Each allocation is an `Allocation` row, so for
every payment sum(allocations) <= amount, and each invoice's `paid_minor` is the sum of its
allocations. Every write locks the service account's row first.
"""

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.audit import audit_record
from accounts.errors import ApplicationError
from billing.exceptions import CurrencyNotAccepted
from billing.ledger import (
    PER_SERVICE_ACCOUNT,
    JournalSpec,
    Posting,
    ledger_accounts_get,
    ledger_post,
    ledger_post_many,
    service_account_lock,
)
from billing.models import (
    Allocation,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JournalKind,
    JournalTransaction,
    LedgerAccount,
    LedgerAccountKind,
    Payment,
    ServiceAccount,
)
from billing.money import Money
from billing.selectors import account_last_invoice, account_open_invoices

logger = logging.getLogger(__name__)

Kind = LedgerAccountKind
ALLOCATION_BUCKETS = ("charges", "oldest", "current")
PAYMENT_DEBIT_KINDS = frozenset({Kind.CLEARING, Kind.CASH, Kind.SUSPENSE})


class PaymentReferenceConflict(ApplicationError):
    code = "payment_reference_conflict"
    message = "This payment reference was already recorded with a different amount or account."
    http_status = 409


class InvalidPayment(ApplicationError):
    code = "invalid_payment"
    message = "A payment needs a positive amount, a source and a reference."


class InvalidAllocationOrder(ApplicationError):
    code = "invalid_allocation_order"
    message = "The operator's allocation order names an unknown bucket."
    http_status = 500


class InvalidStatusTransition(ApplicationError):
    code = "invalid_status_transition"
    message = "The invoice cannot move to that status."
    http_status = 409


def allocation_order_parse(text: str) -> tuple[str, ...]:
    """'oldest,charges' -> ('oldest', 'charges', 'current'). Usable as a form validator."""
    listed = [token.strip() for token in (text or "").split(",") if token.strip()]
    unknown = sorted(set(listed) - set(ALLOCATION_BUCKETS))
    if unknown:
        raise InvalidAllocationOrder(extra={"unknown": unknown})
    order = list(dict.fromkeys(listed))
    return (*order, *(bucket for bucket in ALLOCATION_BUCKETS if bucket not in order))


def invoices_in_allocation_order(account: ServiceAccount) -> list[Invoice]:
    """The account's open invoices in the order its operator settles them."""
    open_invoices = list(account_open_invoices(account))
    last = account_last_invoice(account)
    current_id = last.pk if last else None
    buckets = {
        "charges": [inv for inv in open_invoices if inv.kind != InvoiceKind.INVOICE],
        "current": [inv for inv in open_invoices if inv.pk == current_id],
        "oldest": [
            inv for inv in open_invoices if inv.kind == InvoiceKind.INVOICE and inv.pk != current_id
        ],
    }
    order = allocation_order_parse(account.operator.allocation_order)
    return [invoice for bucket in order for invoice in buckets[bucket]]


def _status_for(invoice: Invoice) -> str:
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED):
        return invoice.status
    if invoice.open_minor <= 0:
        return InvoiceStatus.PAID
    if invoice.status == InvoiceStatus.OVERDUE:
        return InvoiceStatus.OVERDUE
    if invoice.status == InvoiceStatus.PAID:  # reopened by a reversal
        today = timezone.localdate(timezone=ZoneInfo(invoice.operator.timezone))
        if invoice.due_date < today:
            return InvoiceStatus.OVERDUE
    if invoice.paid_minor + invoice.credited_minor > 0:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.ISSUED


def invoice_status_refresh(invoice: Invoice) -> Invoice:
    """Re-read the invoice's paid/credited caches and set its status from them.

    Nothing open -> paid; an overdue invoice stays overdue until paid (a paid one reopened after
    its due date becomes overdue); something settled -> partially_paid; else issued. Draft and
    cancelled invoices are left alone. Moves are checked against InvoiceStatus.transitions.
    """
    invoice.refresh_from_db(fields=["status", "paid_minor", "credited_minor"])
    target = _status_for(invoice)
    if target != invoice.status:
        if target not in InvoiceStatus.transitions()[invoice.status]:
            raise InvalidStatusTransition(extra={"from": invoice.status, "to": target})
        invoice.status = target
        invoice.save(update_fields=["status"])
    return invoice


def _settle(*, invoice: Invoice, payment: Payment, amount_minor: int) -> Allocation:
    """Allocate part of a payment (negative: take it back) and refresh the invoice."""
    allocation = Allocation.objects.create(
        payment=payment, invoice=invoice, amount_minor=amount_minor
    )
    Invoice.objects.filter(pk=invoice.pk).update(paid_minor=F("paid_minor") + amount_minor)
    invoice_status_refresh(invoice)
    return allocation


def _allocate(*, payment: Payment, account: ServiceAccount) -> int:
    remaining = payment.amount_minor
    for invoice in invoices_in_allocation_order(account):
        take = min(remaining, invoice.open_minor)
        if take > 0:
            _settle(invoice=invoice, payment=payment, amount_minor=take)
            remaining -= take
        if not remaining:
            break
    return payment.amount_minor - remaining


def _customer_accounts(
    account: ServiceAccount, currency: str, *also: tuple[str, str]
) -> list[LedgerAccount]:
    """The account's receivable and customer-credit ledger accounts, in that order, then the
    operator's accounts `also` ((kind, detail) each): one query when they exist."""
    wanted = [(Kind.RECEIVABLE, account, ""), (Kind.CUSTOMER_CREDIT, account, "")]
    wanted += [(kind, None, detail) for kind, detail in also]
    return ledger_accounts_get(operator=account.operator, currency=currency, wanted=wanted)


def _replayed(existing: Payment, *, account: ServiceAccount, amount: Money) -> Payment:
    same = (
        existing.account_id == account.pk
        and existing.amount_minor == amount.minor
        and existing.currency == amount.currency
    )
    if not same:
        raise PaymentReferenceConflict(
            extra={"source": existing.source, "reference": existing.reference}
        )
    return existing


@transaction.atomic
def payment_record(
    *,
    account: ServiceAccount,
    amount: Money,
    source: str,
    reference: str,
    received_at: datetime | None = None,
    recorded_by=None,
    clearing: str,
) -> Payment:
    """Record money received for `account` and allocate it; once per (source, reference).

    `clearing` is the code of the ledger account debited: "clearing:<provider>" for mobile
    money, "cash:agent:<id>" for cash taken by an agent, or "suspense". A replay of the same
    (source, reference) with the same account and amount returns the existing payment and
    changes nothing; with anything different it raises PaymentReferenceConflict.
    """
    reference, source = (reference or "").strip(), (source or "").strip()
    if not (0 < len(source) <= 16 and 0 < len(reference) <= 64) or amount.minor <= 0:
        raise InvalidPayment()
    debit_kind, _, debit_detail = clearing.partition(":")
    if debit_kind not in PAYMENT_DEBIT_KINDS:
        raise ValueError(f"cannot take a payment into {clearing!r}")
    account = service_account_lock(account_id=account.pk)
    existing = Payment.objects.filter(source=source, reference=reference).first()
    if existing is not None:
        return _replayed(existing, account=account, amount=amount)
    if amount.currency != account.operator.currency:
        raise CurrencyNotAccepted(extra={"currency": account.operator.currency})
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                operator=account.operator,
                account=account,
                currency=amount.currency,
                amount_minor=amount.minor,
                source=source,
                reference=reference,
                received_at=received_at or timezone.now(),
                recorded_by=recorded_by,
            )
    except IntegrityError:  # the same reference, recorded for another account meanwhile
        existing = Payment.objects.get(source=source, reference=reference)
        return _replayed(existing, account=account, amount=amount)
    allocated = _allocate(payment=payment, account=account)
    receivable, credit, debit = _customer_accounts(
        account, amount.currency, (debit_kind, debit_detail)
    )
    postings = [Posting(debit, amount.minor)]
    if allocated:
        postings.append(Posting(receivable, -allocated))
    if amount.minor - allocated:
        postings.append(Posting(credit, allocated - amount.minor))
    ledger_post(
        operator=account.operator,
        kind=JournalKind.PAYMENT,
        source_type="payment",
        source_id=payment.pk,
        postings=postings,
        memo=f"Payment {source} {reference}",
    )
    logger.info(
        "payment recorded",
        extra={"payment_id": payment.pk, "account": account.number, "source": source},
    )
    from billing.services.service_control import account_service_review  # imports this module

    account_service_review(account=account)
    return payment


@transaction.atomic
def customer_credit_apply(*, account: ServiceAccount) -> int:
    """Hand unallocated payment money to open invoices; returns the minor units applied.

    Call after issuing invoices. The oldest payments with a remainder go first; each invoice
    that receives credit gets its own `credit_applied` journal.
    """
    account = service_account_lock(account_id=account.pk)
    payments = list(
        Payment.objects.filter(account=account, reversed_at__isnull=True)
        .annotate(allocated=Coalesce(Sum("allocations__amount_minor"), 0))
        .filter(amount_minor__gt=F("allocated"))
        .order_by("received_at", "id")
    )
    if not payments:
        return 0
    remaining = {payment.pk: payment.amount_minor - payment.allocated for payment in payments}
    receivable, credit = _customer_accounts(account, account.operator.currency)
    journals = []
    for invoice in invoices_in_allocation_order(account):
        applied = []
        for payment in payments:
            take = min(remaining[payment.pk], invoice.open_minor)
            if take > 0:
                applied.append(_settle(invoice=invoice, payment=payment, amount_minor=take))
                remaining[payment.pk] -= take
        if applied:
            total = sum(allocation.amount_minor for allocation in applied)
            journals.append(
                JournalSpec(
                    kind=JournalKind.CREDIT_APPLIED,
                    source_type="credit_applied",
                    source_id=f"{invoice.pk}:{applied[0].pk}",
                    postings=(Posting(credit, total), Posting(receivable, -total)),
                    memo=f"Credit applied to {invoice.number}",
                )
            )
    if journals:
        ledger_post_many(operator=account.operator, journals=journals)
    return sum(spec.postings[0].amount_minor for spec in journals)


@transaction.atomic
def payment_reverse(*, payment: Payment, reason: str, actor=None) -> Payment:
    """Undo a payment: a reversal journal and negative allocations. Reversing twice is a no-op.

    The reversal journal negates the payment's own journal; credit from this payment that was
    applied to invoices later is taken back from them too, so the net effect is exactly as if
    the payment had never been recorded. Reopened invoices get their status back, and other
    payments' credit is then applied to them.
    """
    account = service_account_lock(account_id=payment.account_id)
    payment = Payment.objects.get(pk=payment.pk)
    if payment.reversed_at is not None:
        return payment
    taken_back = 0
    nets = (
        Allocation.objects.filter(payment=payment)
        .values("invoice")
        .annotate(net=Sum("amount_minor"))
        .filter(net__gt=0)
        .order_by("invoice")
    )
    for row in nets:
        invoice = Invoice.objects.select_related("operator").get(pk=row["invoice"])
        _settle(invoice=invoice, payment=payment, amount_minor=-row["net"])
        taken_back += row["net"]
    original = JournalTransaction.objects.get(
        source_type="payment", source_id=str(payment.pk), kind=JournalKind.PAYMENT
    )
    postings = [
        Posting(entry.account, -entry.amount_minor)
        for entry in original.entries.select_related("account")
        if entry.account.kind not in PER_SERVICE_ACCOUNT
    ]
    receivable, credit = _customer_accounts(account, payment.currency)
    if taken_back:
        postings.append(Posting(receivable, taken_back))
    if payment.amount_minor - taken_back:
        postings.append(Posting(credit, payment.amount_minor - taken_back))
    ledger_post(
        operator=account.operator,
        kind=JournalKind.REVERSAL,
        source_type="reversal",
        source_id=original.pk,
        postings=postings,
        memo=f"Reversal of payment {payment.source} {payment.reference}: {reason}",
        reverses=original,
    )
    payment.reversed_at = timezone.now()
    payment.save(update_fields=["reversed_at"])
    audit_record(actor=actor, action="payment.reverse", instance=payment, after={"reason": reason})
    customer_credit_apply(account=account)
    return payment
