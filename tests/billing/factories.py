"""Builders for billing tests: plain functions, shared by several test modules.

Keep the names and keyword arguments stable; add new keywords with defaults only.

- operator_make(*, currency="KES", slug=None, **fields) -> Operator
- tariff_make(*, operator, utility="water", effective_from=2026-01-01, **version_fields)
      -> Tariff with one flat TariffVersion (100 per unit, VAT 16 %, penalty 5 %)
- customer_make(*, phone=None, name="Amani Test") -> an active customer User
- service_account_make(*, operator, tariff=None, owner=None, utility="water", number=None)
      -> ServiceAccount numbered from the operator's "account" sequence (one operator per test
      unless `number` is given: account numbers are unique across operators)
- account_make(*, currency="KES", **operator_fields) -> a ServiceAccount with a fresh operator,
      tariff and owner
- invoice_make(*, account, net_minor, vat_minor=0, kind="invoice", period=None,
      issue_date=None, due_date=None, apply_credit=True) -> an issued Invoice with its lines,
      posted as the invoice service does (Dr receivable total / Cr revenue:<utility> net /
      Cr vat_payable VAT; a fee posts Cr fee_income), then the customer's credit applied
- money(text, currency="KES") -> Money.of(text, currency)
"""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from accounts.models import User
from billing.account_numbers import account_number_make
from billing.ledger import Posting, ledger_account_get, ledger_post, service_account_lock
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    JournalKind,
    LedgerAccountKind,
    LineKind,
    Operator,
    ServiceAccount,
    Tariff,
    TariffVersion,
)
from billing.money import Money
from billing.sequences import document_number, sequence_take
from billing.services.payments import customer_credit_apply

_serial = itertools.count(1)
FIRST_PERIOD = date(2026, 1, 1)


def money(text: str, currency: str = "KES") -> Money:
    return Money.of(text, currency)


def operator_make(*, currency: str = "KES", slug: str | None = None, **fields) -> Operator:
    slug = slug or f"utility-{next(_serial)}"
    defaults = {"name": slug.title(), "paybill": "400200", "ussd_code": "*483*1#"}
    return Operator.objects.create(slug=slug, currency=currency, **(defaults | fields))


def tariff_make(
    *,
    operator: Operator,
    utility: str = "water",
    effective_from: date = FIRST_PERIOD,
    **version_fields,
) -> Tariff:
    code = f"T{next(_serial)}"
    tariff = Tariff.objects.create(operator=operator, code=code, name=code, utility=utility)
    version = {
        "pricing": "flat",
        "unit_price": Decimal("100"),
        "vat_rate": Decimal("0.16"),
        "penalty_percent": Decimal("5"),
        "penalty_fixed": Decimal("0"),
    }
    TariffVersion.objects.create(
        tariff=tariff, effective_from=effective_from, **(version | version_fields)
    )
    return tariff


def customer_make(*, phone: str | None = None, name: str = "Amani Test") -> User:
    phone = phone or f"+2547220{next(_serial):05d}"
    return User.objects.create_user(phone, name=name, is_active=True)


@transaction.atomic
def service_account_make(
    *,
    operator: Operator,
    tariff: Tariff | None = None,
    owner: User | None = None,
    utility: str = "water",
    number: str | None = None,
) -> ServiceAccount:
    if number is None:
        (sequence,) = sequence_take(operator=operator, kind="account")
        number = account_number_make(sequence)
    owner = owner or customer_make()
    return ServiceAccount.objects.create(
        number=number,
        operator=operator,
        utility=utility,
        owner=owner,
        holder_name=owner.name,
        tariff=tariff or tariff_make(operator=operator, utility=utility),
    )


def account_make(*, currency: str = "KES", **operator_fields) -> ServiceAccount:
    return service_account_make(operator=operator_make(currency=currency, **operator_fields))


def _next_period(account: ServiceAccount) -> date:
    taken = Invoice.objects.filter(account=account, kind=InvoiceKind.INVOICE).count()
    year, month = divmod(FIRST_PERIOD.month - 1 + taken, 12)
    return date(FIRST_PERIOD.year + year, month + 1, 1)


@transaction.atomic
def invoice_make(
    *,
    account: ServiceAccount,
    net_minor: int,
    vat_minor: int = 0,
    kind: str = InvoiceKind.INVOICE,
    period: date | None = None,
    issue_date: date | None = None,
    due_date: date | None = None,
    apply_credit: bool = True,
) -> Invoice:
    """An issued invoice (or fee) of net + VAT, posted to the ledger like the invoice service."""
    account = service_account_lock(account_id=account.pk)
    operator = account.operator
    if kind == InvoiceKind.INVOICE:
        period = period or _next_period(account)
        issue_date = issue_date or (period + timedelta(days=31)).replace(day=1)
    issue_date = issue_date or FIRST_PERIOD
    (number,) = sequence_take(operator=operator, kind=kind)
    invoice = Invoice.objects.create(
        operator=operator,
        account=account,
        kind=kind,
        number=document_number(operator=operator, kind=kind, number=number),
        status=InvoiceStatus.ISSUED,
        period=period,
        issue_date=issue_date,
        due_date=due_date or issue_date + timedelta(days=operator.invoice_due_days),
        currency=operator.currency,
        total_minor=net_minor + vat_minor,
    )
    line_kind = LineKind.CONSUMPTION if kind == InvoiceKind.INVOICE else LineKind.RECONNECTION
    lines = [(line_kind, "Water used", net_minor), (LineKind.VAT, "VAT", vat_minor)]
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, position=i, kind=k, description=d, amount_minor=a)
        for i, (k, d, a) in enumerate(lines, start=1)
        if a
    )

    def ledger(kind: str, **where):
        return ledger_account_get(operator=operator, kind=kind, currency=invoice.currency, **where)

    income = (
        ledger(LedgerAccountKind.REVENUE, detail=account.utility)
        if kind == InvoiceKind.INVOICE
        else ledger(LedgerAccountKind.FEE_INCOME)
    )
    postings = [
        Posting(ledger(LedgerAccountKind.RECEIVABLE, service_account=account), invoice.total_minor),
        Posting(income, -net_minor),
    ]
    if vat_minor:
        postings.append(Posting(ledger(LedgerAccountKind.VAT_PAYABLE), -vat_minor))
    ledger_post(
        operator=operator,
        kind=JournalKind.INVOICE if kind == InvoiceKind.INVOICE else JournalKind.FEE,
        source_type=kind,
        source_id=invoice.pk,
        postings=postings,
        memo=f"Invoice {invoice.number}",
    )
    if apply_credit:
        customer_credit_apply(account=account)
    invoice.refresh_from_db()
    return invoice
