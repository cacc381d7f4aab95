"""Late-payment penalties of a dunning chunk, in bulk: the charge `penalty_charge` makes.

Same rule as billing.services.penalties (one penalty invoice per overdue periodic invoice,
`penalty_percent` % of what is open on it plus `penalty_fixed`, from the tariff version in
force on its due date, rounded once by `penalty_amount`; Dr receivable / Cr penalty income
under the journal key ("penalty", <invoice id>, "penalty"); the overdue invoice marked
overdue; customer credit then applied), for thousands of invoices with a constant number of
queries: one read (`penalties_due`), then (`penalties_post`) one block of numbers, bulk inserts
of invoices and lines, one `ledger_post_many`, one status UPDATE. The caller holds the
accounts' row locks.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.bulk import objects_insert, rows_insert
from billing.ledger import JournalSpec, Posting, ledger_account_get, ledger_post_many
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    JournalKind,
    LedgerAccount,
    LedgerAccountKind,
    LedgerEntry,
    LineKind,
    Operator,
    ServiceAccount,
    TariffVersion,
)
from billing.models.invoices import OPEN_STATUSES
from billing.money import Money
from billing.sequences import document_number, sequence_take
from billing.services.payments import customer_credit_apply
from billing.services.penalties import penalty_amount

LINE_FIELDS = (
    "invoice",
    "position",
    "kind",
    "description",
    "quantity",
    "unit_price",
    "amount_minor",
)
ONE = Decimal(1)


@dataclass(frozen=True)
class PenaltyTerms:
    """The operator's tariff versions (by start date) and its penalty income account."""

    versions: dict[int, list[TariffVersion]]
    income: LedgerAccount

    @classmethod
    def of(cls, operator: Operator) -> "PenaltyTerms":
        versions = defaultdict(list)
        rows = TariffVersion.objects.filter(tariff__operator=operator).order_by("effective_from")
        for version in rows:
            versions[version.tariff_id].append(version)
        income = ledger_account_get(
            operator=operator, kind=LedgerAccountKind.PENALTY_INCOME, currency=operator.currency
        )
        return cls(dict(versions), income)

    def version_on(self, tariff_id: int, day: date) -> TariffVersion | None:
        versions = self.versions.get(tariff_id, [])
        starts = [version.effective_from for version in versions]
        index = bisect_right(starts, day)
        return versions[index - 1] if index else None


def _receivables(operator: Operator, accounts: dict[int, str]) -> dict[int, LedgerAccount]:
    """receivable:<number> of each account id (in `accounts`: id -> number), made if missing."""
    kind, currency = LedgerAccountKind.RECEIVABLE, operator.currency
    rows = LedgerAccount.objects.filter(
        operator=operator, kind=kind, currency=currency, service_account_id__in=list(accounts)
    )
    found = {row.service_account_id: row for row in rows}
    missing = [
        LedgerAccount(
            operator=operator,
            kind=kind,
            code=f"{kind}:{number}",
            currency=currency,
            service_account_id=account_id,
        )
        for account_id, number in accounts.items()
        if account_id not in found
    ]
    objects_insert(LedgerAccount, missing)
    return found | {row.service_account_id: row for row in missing}


def _credit_apply(operator: Operator, account_ids: set[int]) -> None:
    """Customer credit goes to the new penalties, as `penalty_charge` does (one query)."""
    with_credit = (
        LedgerEntry.objects.filter(
            account__operator=operator,
            account__kind=LedgerAccountKind.CUSTOMER_CREDIT,
            account__service_account_id__in=list(account_ids),
        )
        .values("account__service_account_id")
        .annotate(balance=Sum("amount_minor"))
        .filter(balance__lt=0)
        .values_list("account__service_account_id", flat=True)
    )
    for account in ServiceAccount.objects.filter(pk__in=list(with_credit)):
        customer_credit_apply(account=account)


def _line(penalty: Invoice, charge: "Charge") -> tuple:
    description = f"Late-payment penalty on {charge.invoice_number}"
    amount = charge.amount
    return (penalty.pk, 1, LineKind.PENALTY, description, ONE, amount.amount, amount.minor)


@dataclass(frozen=True)
class Charge:
    """A penalty to charge on an overdue invoice."""

    invoice_id: int
    invoice_number: str
    account_id: int
    account_number: str
    amount: Money


def penalties_due(*, invoice_ids: list[int], on_date: date, terms: PenaltyTerms) -> list[Charge]:
    """The penalties owed on those invoices that are open, overdue on `on_date`, periodic and
    not penalised yet (one query; nothing written)."""
    penalised = Invoice.objects.filter(related_id__in=invoice_ids, kind=InvoiceKind.PENALTY)
    rows = (
        Invoice.objects.filter(
            pk__in=invoice_ids,
            kind=InvoiceKind.INVOICE,
            status__in=OPEN_STATUSES,
            due_date__lt=on_date,
        )
        .exclude(pk__in=penalised.values("related_id"))
        .values_list(
            "pk",
            "number",
            "due_date",
            "currency",
            "total_minor",
            "paid_minor",
            "credited_minor",
            "account_id",
            "account__number",
            "account__tariff_id",
        )
        .order_by("pk")
    )
    charges = []
    for pk, number, due, currency, total, paid, credited, account_id, acc_no, tariff_id in rows:
        version = terms.version_on(tariff_id, due)
        if version is None:
            continue
        amount = penalty_amount(
            open_amount=Money(total - paid - credited, currency), version=version
        )
        if amount.minor > 0:
            charges.append(Charge(pk, number, account_id, acc_no, amount))
    return charges


def penalties_post(
    *, operator: Operator, charges: list[Charge], on_date: date, terms: PenaltyTerms
) -> None:
    """Write the penalty invoices, lines and journals. The block of gap-free numbers is taken
    as late as possible: its row lock is held until the caller's transaction commits."""
    if not charges:
        return
    receivables = _receivables(operator, {c.account_id: c.account_number for c in charges})
    due_date = on_date + timedelta(days=operator.invoice_due_days)
    penalties = [
        Invoice(
            operator=operator,
            account_id=charge.account_id,
            kind=InvoiceKind.PENALTY,
            status=InvoiceStatus.ISSUED,
            issue_date=on_date,
            due_date=due_date,
            currency=charge.amount.currency,
            total_minor=charge.amount.minor,
            related_id=charge.invoice_id,
        )
        for charge in charges
    ]
    numbers = sequence_take(operator=operator, kind="penalty", count=len(charges))
    for penalty, taken in zip(penalties, numbers, strict=True):
        penalty.number = document_number(operator=operator, kind="penalty", number=taken)
    objects_insert(Invoice, penalties)
    pairs = list(zip(penalties, charges, strict=True))
    rows_insert(InvoiceLine, LINE_FIELDS, (_line(penalty, c) for penalty, c in pairs))
    ledger_post_many(
        operator=operator,
        journals=[
            JournalSpec(
                kind=JournalKind.PENALTY,
                source_type="penalty",
                source_id=str(c.invoice_id),
                postings=(
                    Posting(receivables[c.account_id], c.amount.minor),
                    Posting(terms.income, -c.amount.minor),
                ),
                memo=f"Late-payment penalty {penalty.number} on {c.invoice_number}",
            )
            for penalty, c in pairs
        ],
    )
    Invoice.objects.filter(pk__in=[c.invoice_id for c in charges]).exclude(
        status=InvoiceStatus.OVERDUE
    ).update(status=InvoiceStatus.OVERDUE)
    _credit_apply(operator, {c.account_id for c in charges})


def penalties_charge_bulk(
    *, operator: Operator, invoice_ids: list[int], on_date: date, terms: PenaltyTerms
) -> dict[int, int]:
    """`penalties_due` then `penalties_post`: {overdue invoice id: penalty in minor units}."""
    charges = penalties_due(invoice_ids=invoice_ids, on_date=on_date, terms=terms)
    penalties_post(operator=operator, charges=charges, on_date=on_date, terms=terms)
    return {charge.invoice_id: charge.amount.minor for charge in charges}
