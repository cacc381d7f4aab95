"""Late-payment penalties of a dunning chunk, in bulk: the charge `penalty_charge` makes.

Same rule as billing.services.penalties (one penalty invoice per overdue periodic invoice,
`penalty_percent` % of what is open on it plus `penalty_fixed`, from the tariff version in
force on its due date, rounded once by `penalty_amount`; Dr receivable / Cr penalty income
under the journal key ("penalty", <invoice id>, "penalty"); the overdue invoice marked
overdue; customer credit then applied), for thousands of invoices with a constant number of
queries: one read (`penalties_due`), then (`penalties_post`) one block of numbers, bulk inserts
of invoices and lines, one `ledger_post_ids`, one status UPDATE. On PostgreSQL the invoices,
their lines and the status UPDATE are one statement built from arrays (no model instances).
The caller holds the accounts' row locks.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from billing.bulk import array_cursor, id_filter, objects_insert, rows_insert
from billing.ledger import (
    AccountRef,
    JournalSpec,
    Posting,
    ledger_account_get,
    ledger_post_ids,
)
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


def _receivables(operator: Operator, charges: list["Charge"]) -> dict[int, AccountRef]:
    """receivable:<number> of each charge's account (found by `penalties_due`), made if
    missing."""
    kind, currency = LedgerAccountKind.RECEIVABLE, operator.currency
    found = {
        c.account_id: AccountRef(c.receivable_id, c.amount.currency)
        for c in charges
        if c.receivable_id
    }
    missing = {c.account_id: c.account_number for c in charges if c.account_id not in found}
    rows = [
        LedgerAccount(
            operator=operator,
            kind=kind,
            code=f"{kind}:{number}",
            currency=currency,
            service_account_id=account_id,
        )
        for account_id, number in missing.items()
    ]
    objects_insert(LedgerAccount, rows)
    return found | {row.service_account_id: AccountRef(row.pk, currency) for row in rows}


def _with_credit_sql(accounts: str) -> str:
    return f"""
        SELECT c.service_account_id FROM {LedgerAccount._meta.db_table} c
         WHERE c.operator_id = %s AND c.kind = %s AND {accounts}
           AND (SELECT sum(e.amount_minor) FROM {LedgerEntry._meta.db_table} e
                 WHERE e.account_id = c.id) < 0
    """  # noqa: S608 - table names from _meta, values bound


def _credit_apply(operator: Operator, account_ids: set[int]) -> None:
    """Customer credit goes to the new penalties, as `penalty_charge` does (one query)."""
    accounts, ids = id_filter("c.service_account_id", sorted(account_ids))
    with array_cursor() as cursor:
        params = [operator.pk, LedgerAccountKind.CUSTOMER_CREDIT.value, *ids]
        cursor.execute(_with_credit_sql(accounts), params)
        with_credit = [row[0] for row in cursor.fetchall()]
    for account in ServiceAccount.objects.filter(pk__in=with_credit).order_by("pk"):
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
    receivable_id: int | None = None  # the account's receivable ledger account, if it has one


def _due_sql(invoices: str) -> str:
    invoice, account = Invoice._meta.db_table, ServiceAccount._meta.db_table
    ledger = LedgerAccount._meta.db_table
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    return f"""
        SELECT i.id, i.number, i.due_date, i.currency,
               i.total_minor - i.paid_minor - i.credited_minor, i.account_id, a.number,
               a.tariff_id,
               (SELECT r.id FROM {ledger} r
                 WHERE r.service_account_id = a.id AND r.operator_id = i.operator_id
                   AND r.kind = %s AND r.currency = i.currency LIMIT 1)
          FROM {invoice} i JOIN {account} a ON a.id = i.account_id
         WHERE {invoices} AND i.kind = %s AND i.status IN ({statuses})
           AND i.due_date < %s
           AND NOT EXISTS (SELECT 1 FROM {invoice} p WHERE p.related_id = i.id AND p.kind = %s)
         ORDER BY i.id
    """  # noqa: S608 - table names from _meta, values bound


def penalties_due(*, invoice_ids: list[int], on_date: date, terms: PenaltyTerms) -> list[Charge]:
    """The penalties owed on those invoices that are open, overdue on `on_date`, periodic and
    not penalised yet (one query; nothing written)."""
    if not invoice_ids:
        return []
    invoices, ids = id_filter("i.id", invoice_ids)
    params = [LedgerAccountKind.RECEIVABLE.value, *ids, InvoiceKind.INVOICE.value]
    params += [*(str(status) for status in OPEN_STATUSES)]
    params += [connection.ops.adapt_datefield_value(on_date), InvoiceKind.PENALTY.value]
    with array_cursor() as cursor:
        cursor.execute(_due_sql(invoices), params)
        rows = cursor.fetchall()
    charges = []
    for pk, number, due, currency, open_, account_id, acc_no, tariff_id, receivable in rows:
        due = due if isinstance(due, date) else date.fromisoformat(due)
        version = terms.version_on(tariff_id, due)
        if version is None:
            continue
        amount = penalty_amount(open_amount=Money(open_, currency), version=version)
        if amount.minor > 0:
            charges.append(Charge(pk, number, account_id, acc_no, amount, receivable))
    return charges


# PostgreSQL: the penalty invoices, their lines and the overdue marks in one statement.
PENALTIES_SQL = """
    WITH src AS (
        SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::bigint[],
                             %b::numeric[], %b::text[])
               AS s (related_id, account_id, number, currency, amount_minor, unit_price,
                     description)
    ), penalty AS (
        INSERT INTO billing_invoice (operator_id, account_id, kind, number, status, issue_date,
               due_date, currency, total_minor, paid_minor, credited_minor, is_estimated,
               related_id, created_at)
        SELECT %s, account_id, %s, number, %s, %s, %s, currency, amount_minor, 0, 0, false,
               related_id, %s
          FROM src
        RETURNING id, related_id
    ), line AS (
        INSERT INTO billing_invoiceline (invoice_id, position, kind, description, quantity,
               unit_price, amount_minor)
        SELECT penalty.id, 1, %s, src.description, 1, src.unit_price, src.amount_minor
          FROM penalty JOIN src USING (related_id)
    )
    UPDATE billing_invoice SET status = %s
     WHERE id IN (SELECT related_id FROM src) AND status <> %s
"""


def _invoices_write_postgresql(operator, charges, numbers, on_date, due_date) -> None:
    columns = [[], [], [], [], [], [], []]
    for charge, number in zip(charges, numbers, strict=True):
        amount = charge.amount
        row = (
            charge.invoice_id,
            charge.account_id,
            number,
            amount.currency,
            amount.minor,
            amount.amount,
            f"Late-payment penalty on {charge.invoice_number}",
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    overdue = InvoiceStatus.OVERDUE.value
    params = [*columns, operator.pk, InvoiceKind.PENALTY.value, InvoiceStatus.ISSUED.value]
    params += [on_date, due_date, timezone.now(), LineKind.PENALTY.value, overdue, overdue]
    with array_cursor() as cursor:
        cursor.execute(PENALTIES_SQL, params)


def _invoices_write_orm(operator, charges, numbers, on_date, due_date) -> None:
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
            number=number,
        )
        for charge, number in zip(charges, numbers, strict=True)
    ]
    objects_insert(Invoice, penalties)
    pairs = zip(penalties, charges, strict=True)
    rows_insert(InvoiceLine, LINE_FIELDS, (_line(penalty, c) for penalty, c in pairs))
    Invoice.objects.filter(pk__in=[c.invoice_id for c in charges]).exclude(
        status=InvoiceStatus.OVERDUE
    ).update(status=InvoiceStatus.OVERDUE)


def penalties_post(
    *, operator: Operator, charges: list[Charge], on_date: date, terms: PenaltyTerms
) -> None:
    """Write the penalty invoices, lines and journals. The block of gap-free numbers is taken
    as late as possible: its row lock is held until the caller's transaction commits."""
    if not charges:
        return
    receivables = _receivables(operator, charges)
    due_date = on_date + timedelta(days=operator.invoice_due_days)
    taken = sequence_take(operator=operator, kind="penalty", count=len(charges))
    numbers = [document_number(operator=operator, kind="penalty", number=n) for n in taken]
    write = _invoices_write_postgresql if connection.vendor == "postgresql" else _invoices_write_orm
    write(operator, charges, numbers, on_date, due_date)
    income = terms.income
    ledger_post_ids(
        operator=operator,
        journals=[
            JournalSpec(
                kind=JournalKind.PENALTY,
                source_type="penalty",
                source_id=str(c.invoice_id),
                postings=(
                    Posting(receivables[c.account_id], c.amount.minor),
                    Posting(income, -c.amount.minor),
                ),
                memo=f"Late-payment penalty {number} on {c.invoice_number}",
            )
            for c, number in zip(charges, numbers, strict=True)
        ],
    )
    _credit_apply(operator, {c.account_id for c in charges})


def penalties_charge_bulk(
    *, operator: Operator, invoice_ids: list[int], on_date: date, terms: PenaltyTerms
) -> dict[int, int]:
    """`penalties_due` then `penalties_post`: {overdue invoice id: penalty in minor units}."""
    charges = penalties_due(invoice_ids=invoice_ids, on_date=on_date, terms=terms)
    penalties_post(operator=operator, charges=charges, on_date=on_date, terms=terms)
    return {charge.invoice_id: charge.amount.minor for charge in charges}
