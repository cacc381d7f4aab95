"""Reads of what a customer owes, derived from the ledger (never from a cached balance).

The balance of a service account is the sum of its receivable and customer-credit entries in
the operator's currency: positive means the customer owes money, negative that they are in
credit. Invoice amounts (`paid_minor`, `credited_minor`) are caches kept under the account's
row lock; the ledger is the truth.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet, Sum

from billing.compiled import CompiledQuery, Slot
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JournalKind,
    LedgerAccountKind,
    LedgerEntry,
    ServiceAccount,
)
from billing.models.invoices import OPEN_STATUSES
from billing.money import Money

CUSTOMER_LEDGER_KINDS = (LedgerAccountKind.RECEIVABLE, LedgerAccountKind.CUSTOMER_CREDIT)


@dataclass(frozen=True)
class StatementLine:
    """One movement of a customer's balance: + raises what they owe, - lowers it."""

    at: datetime
    kind: str  # a JournalKind: invoice, payment, penalty, credit_note, reversal, ...
    description: str
    amount: Money
    balance: Money  # what the customer owes after this movement


# Sentinels standing for the values of the compiled queries (never a real id or currency).
_ACCOUNT, _CURRENCY = -1_999_999_917, "\x00currency"


def _customer_entries(account, currency) -> QuerySet[LedgerEntry]:
    """`account`: a ServiceAccount or its id."""
    return LedgerEntry.objects.filter(
        account__service_account=account,
        account__kind__in=CUSTOMER_LEDGER_KINDS,
        currency=currency,
    )


# The entries are all in `currency`: grouping by it gives one row (none without entries),
# which a compiled query can run where aggregate() cannot.
_balance_query = CompiledQuery(
    lambda account, currency: (
        _customer_entries(account, currency)
        .values("currency")
        .annotate(total=Sum("amount_minor"))
        .order_by()
    ),
    account=Slot(_ACCOUNT),
    currency=Slot(_CURRENCY),
)


def account_balance(account: ServiceAccount) -> Money:
    """What the customer owes now (negative: money in credit), summed from ledger entries."""
    currency = account.operator.currency
    rows = _balance_query.rows(account=account.pk, currency=currency)
    return Money(rows[0][1] if rows else 0, currency)


def account_open_invoices(account: ServiceAccount) -> QuerySet[Invoice]:
    """Invoices, penalties and fees still to be paid, oldest due date first."""
    return Invoice.objects.filter(account=account, status__in=OPEN_STATUSES).order_by(
        "due_date", "id"
    )


_INVOICE_COLUMNS = tuple(field.attname for field in Invoice._meta.concrete_fields)
_last_invoice_query = CompiledQuery(
    lambda account: (
        Invoice.objects.filter(account_id=account, kind=InvoiceKind.INVOICE)
        .exclude(status__in=(InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED))
        .order_by("-issue_date", "-id")
        .values_list(*_INVOICE_COLUMNS)[:1]
    ),
    account=Slot(_ACCOUNT),
)


def account_last_invoice(account: ServiceAccount) -> Invoice | None:
    """The latest periodic invoice that was issued (penalties and fees excluded), or None."""
    rows = _last_invoice_query.rows(account=account.pk)
    return Invoice.from_db(DEFAULT_DB_ALIAS, _INVOICE_COLUMNS, rows[0]) if rows else None


_statement_query = CompiledQuery(
    lambda limit, account, currency: (
        _customer_entries(account, currency)
        .values("journal_id", "journal__created_at", "journal__kind", "journal__memo")
        .annotate(amount=Sum("amount_minor"))
        .exclude(amount=0)
        .order_by("-journal__created_at", "-journal_id")[:limit]
    ),
    account=Slot(_ACCOUNT),
    currency=Slot(_CURRENCY),
)


def account_statement(account: ServiceAccount, *, limit: int = 10) -> list[StatementLine]:
    """The last `limit` movements of the balance, oldest first, each with the balance after it.

    One line per journal transaction that changed the balance; moves that leave it unchanged
    (customer credit applied to an invoice) are left out.
    """
    currency = account.operator.currency
    rows = _statement_query.dicts(int(limit), account=account.pk, currency=currency)
    balance = account_balance(account).minor
    lines = []
    for row in rows:
        kind = row["journal__kind"]
        lines.append(
            StatementLine(
                at=row["journal__created_at"],
                kind=kind,
                description=row["journal__memo"] or JournalKind(kind).label,
                amount=Money(row["amount"], currency),
                balance=Money(balance, currency),
            )
        )
        balance -= row["amount"]
    lines.reverse()
    return lines
