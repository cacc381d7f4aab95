"""Late-payment penalties: one penalty invoice per overdue invoice, at most.

The penalty is `penalty_percent` % of what is still open on the overdue invoice plus
`penalty_fixed`, from the tariff version in force on the invoice's due date (the terms the
customer was under when the payment fell due), rounded once to the minor unit (billing.money).
It is its own invoice (kind "penalty", related to the overdue one) with one line, posted
Dr receivable / Cr penalty income; the overdue invoice is marked overdue.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from billing.ledger import Posting, ledger_account_get, ledger_post, service_account_lock
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    JournalKind,
    LedgerAccountKind,
    LineKind,
    TariffVersion,
)
from billing.models.invoices import OPEN_STATUSES
from billing.money import ROUNDING, Money
from billing.sequences import document_number, sequence_take
from billing.services.payments import customer_credit_apply


def penalty_amount(*, open_amount: Money, version: TariffVersion) -> Money:
    """percent % of the open amount plus the fixed part, rounded half up once."""
    value = open_amount.amount * version.penalty_percent / Decimal(100) + version.penalty_fixed
    return Money.from_decimal(value, open_amount.currency, rounding=ROUNDING)


def _version_on(tariff_id: int, day: date) -> TariffVersion | None:
    return (
        TariffVersion.objects.filter(tariff_id=tariff_id, effective_from__lte=day)
        .order_by("-effective_from")
        .first()
    )


@transaction.atomic
def penalty_charge(*, invoice: Invoice, on_date: date) -> Invoice | None:
    """Charge the late-payment penalty on an invoice overdue on `on_date`.

    Returns the new penalty invoice, or None when nothing is charged: the invoice is not a
    periodic invoice, is not open, is not yet past its due date, was already penalised, or the
    tariff's penalty comes to zero. Safe to call again: one penalty per overdue invoice.
    """
    account = service_account_lock(account_id=invoice.account_id)
    operator = account.operator
    invoice = Invoice.objects.get(pk=invoice.pk)
    if (
        invoice.kind != InvoiceKind.INVOICE
        or invoice.status not in OPEN_STATUSES
        or invoice.due_date >= on_date
        or Invoice.objects.filter(related=invoice, kind=InvoiceKind.PENALTY).exists()
    ):
        return None
    version = _version_on(account.tariff_id, invoice.due_date)
    if version is None:
        return None
    amount = penalty_amount(
        open_amount=Money(invoice.open_minor, invoice.currency), version=version
    )
    if amount.minor <= 0:
        return None
    (number,) = sequence_take(operator=operator, kind="penalty")
    penalty = Invoice.objects.create(
        operator=operator,
        account=account,
        kind=InvoiceKind.PENALTY,
        number=document_number(operator=operator, kind="penalty", number=number),
        status=InvoiceStatus.ISSUED,
        issue_date=on_date,
        due_date=on_date + timedelta(days=operator.invoice_due_days),
        currency=amount.currency,
        total_minor=amount.minor,
        related=invoice,
    )
    InvoiceLine.objects.create(
        invoice=penalty,
        position=1,
        kind=LineKind.PENALTY,
        description=f"Late-payment penalty on {invoice.number}",
        unit_price=amount.amount,
        amount_minor=amount.minor,
    )
    ledger_post(
        operator=operator,
        kind=JournalKind.PENALTY,
        source_type="penalty",
        source_id=invoice.pk,
        postings=[
            Posting(
                ledger_account_get(
                    operator=operator,
                    kind=LedgerAccountKind.RECEIVABLE,
                    currency=amount.currency,
                    service_account=account,
                ),
                amount.minor,
            ),
            Posting(
                ledger_account_get(
                    operator=operator,
                    kind=LedgerAccountKind.PENALTY_INCOME,
                    currency=amount.currency,
                ),
                -amount.minor,
            ),
        ],
        memo=f"Late-payment penalty {penalty.number} on {invoice.number}",
    )
    if invoice.status != InvoiceStatus.OVERDUE:
        invoice.status = InvoiceStatus.OVERDUE
        invoice.save(update_fields=["status"])
    customer_credit_apply(account=account)
    return penalty
