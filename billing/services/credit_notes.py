"""Credit notes: lowering what an issued invoice asks for, never more than is still open.

An issued invoice is never edited; a credit note records the correction. It posts
Dr income / Dr VAT payable / Cr receivable, splitting the amount between income and VAT in the
invoice's own proportion. The split is computed on the running total credited, so a series of
credit notes that together cancel an invoice gives back exactly its VAT.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import F

from accounts.audit import audit_record
from accounts.errors import ApplicationError
from billing.exceptions import CurrencyNotAccepted
from billing.ledger import Posting, ledger_account_get, ledger_post, service_account_lock
from billing.models import (
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JournalKind,
    LedgerAccount,
    LedgerAccountKind,
    LineKind,
)
from billing.money import Money
from billing.sequences import document_number, sequence_take
from billing.services.payments import invoice_status_refresh

Kind = LedgerAccountKind
INCOME_KIND = {
    InvoiceKind.INVOICE: Kind.REVENUE,
    InvoiceKind.PENALTY: Kind.PENALTY_INCOME,
    InvoiceKind.FEE: Kind.FEE_INCOME,
}


class InvalidCreditNote(ApplicationError):
    code = "invalid_credit_note"
    message = "A credit note needs a positive amount and a reason."


class InvoiceNotCreditable(ApplicationError):
    code = "invoice_not_creditable"
    message = "Only an issued invoice can be credited."
    http_status = 409


class CreditNoteExceedsOpen(ApplicationError):
    code = "credit_note_exceeds_open"
    message = "A credit note cannot be more than what is still open on the invoice."


def _vat_share(credited_minor: int, vat_minor: int, total_minor: int) -> int:
    share = Decimal(credited_minor) * vat_minor / total_minor
    return int(share.to_integral_value(rounding=ROUND_HALF_UP))


def _postings(invoice: Invoice, amount_minor: int, credited_before: int) -> list[Posting]:
    account = invoice.account
    vat_minor = sum(invoice.lines.filter(kind=LineKind.VAT).values_list("amount_minor", flat=True))
    vat = _vat_share(credited_before + amount_minor, vat_minor, invoice.total_minor)
    vat -= _vat_share(credited_before, vat_minor, invoice.total_minor)
    income_kind = INCOME_KIND[invoice.kind]

    def ledger(kind: str, **where) -> LedgerAccount:
        return ledger_account_get(
            operator=account.operator, kind=kind, currency=invoice.currency, **where
        )

    income_detail = account.utility if income_kind == Kind.REVENUE else ""
    postings = [
        Posting(ledger(income_kind, detail=income_detail), amount_minor - vat),
        Posting(ledger(Kind.VAT_PAYABLE), vat),
        Posting(ledger(Kind.RECEIVABLE, service_account=account), -amount_minor),
    ]
    return [posting for posting in postings if posting.amount_minor]


@transaction.atomic
def credit_note_issue(*, invoice: Invoice, amount: Money, reason: str, actor) -> CreditNote:
    """Credit `amount` on an issued invoice; raises CreditNoteExceedsOpen past its open amount."""
    reason = (reason or "").strip()
    if amount.minor <= 0 or not reason:
        raise InvalidCreditNote()
    account = service_account_lock(account_id=invoice.account_id)
    invoice = Invoice.objects.get(pk=invoice.pk)
    invoice.account = account
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED):
        raise InvoiceNotCreditable(extra={"status": invoice.status})
    if amount.currency != invoice.currency:
        raise CurrencyNotAccepted(extra={"currency": invoice.currency})
    if amount.minor > invoice.open_minor:
        open_amount = Money(invoice.open_minor, invoice.currency)
        raise CreditNoteExceedsOpen(extra={"open": open_amount.format()})
    (number,) = sequence_take(operator=account.operator, kind="credit_note")
    note = CreditNote.objects.create(
        operator=account.operator,
        number=document_number(operator=account.operator, kind="credit_note", number=number),
        invoice=invoice,
        currency=amount.currency,
        amount_minor=amount.minor,
        reason=reason[:255],
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    postings = _postings(invoice, amount.minor, invoice.credited_minor)
    Invoice.objects.filter(pk=invoice.pk).update(credited_minor=F("credited_minor") + amount.minor)
    ledger_post(
        operator=account.operator,
        kind=JournalKind.CREDIT_NOTE,
        source_type="credit_note",
        source_id=note.pk,
        postings=postings,
        memo=f"Credit note {note.number} on {invoice.number}",
    )
    invoice_status_refresh(invoice)
    audit_record(
        actor=actor,
        action="credit_note.issue",
        instance=note,
        after={"invoice": invoice.number, "amount_minor": amount.minor, "reason": reason},
    )
    return note
