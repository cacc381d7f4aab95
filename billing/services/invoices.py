"""Issuing invoices: one per service account and billing period, never edited afterwards.

An invoice is issued in one transaction under the service account's row lock: the consumption
of the period (billing.services.readings), the lines from the tariff (billing.tariffs), a
gap-free number (billing.sequences), the ledger posting (Dr receivable; Cr revenue:<utility>
for the lines before VAT; Cr vat_payable for the VAT line), the readings marked invoiced, and
then any customer credit applied to it. An invoice totalling zero posts nothing and is paid.

A correction is a full credit note on the invoice plus a new invoice that `replaces` it
(`invoice_reissue`), computed from the readings and tariffs as they are now.

The helpers below are shared with the bulk billing run (billing.services.billing_run).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.errors import ApplicationError
from billing.bulk import rows_insert
from billing.ledger import (
    JournalSpec,
    Posting,
    ledger_account_get,
    ledger_post_many,
    service_account_lock,
)
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    JournalKind,
    LedgerAccount,
    LedgerAccountKind,
    LineKind,
    MeterReading,
    Operator,
    PriceIndexValue,
    ServiceAccount,
    TariffVersion,
    Utility,
)
from billing.money import Money
from billing.sequences import document_number, sequence_take
from billing.services.credit_notes import credit_note_issue
from billing.services.payments import customer_credit_apply
from billing.services.readings import (
    PeriodConsumption,
    period_consumption,
    readings_mark_invoiced,
)
from billing.tariffs import VERSION_FIELDS, Line, Rate, tariff_lines

UNITS = {Utility.WATER: "m3", Utility.ELECTRICITY: "kWh", Utility.SOLAR: "kWh"}


class InvoiceNotReissuable(ApplicationError):
    code = "invoice_not_reissuable"
    message = "Only a consumption invoice nothing was paid on can be replaced by a new invoice."
    http_status = 409


class InvoiceTotalNegative(ApplicationError):
    code = "invoice_total_negative"
    message = "The estimate correction exceeds this period's charges; credit it by a credit note."
    http_status = 409


# --- helpers shared with the billing run ------------------------------------------------------
def period_bounds(period: date) -> tuple[date, date]:
    """The first and the last day of the month holding `period`."""
    first = period.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def operator_today(operator: Operator) -> date:
    return timezone.localdate(timezone=ZoneInfo(operator.timezone))


def tariff_rates(*, tariff_ids: Iterable[int], period_end: date) -> dict[int, list[Rate]]:
    """Every version of these tariffs that starts before the period ends (two queries)."""
    versions = TariffVersion.objects.filter(
        tariff_id__in=tariff_ids, effective_from__lte=period_end
    ).prefetch_related("tiers")
    rates: dict[int, list[Rate]] = defaultdict(list)
    for version in versions:
        rates[version.tariff_id].append(Rate.of(version))
    return rates


def index_prices(*, operator: Operator, month: date) -> dict[int, Decimal]:
    """The operator's price index values for the month (one query)."""
    rows = PriceIndexValue.objects.filter(index__operator=operator, month=month)
    return dict(rows.values_list("index_id", "price"))


def tariff_rates_priced(
    *, tariff_id: int, month: date
) -> tuple[dict[int, list[Rate]], dict[int, Decimal]]:
    """What `tariff_rates` and `index_prices` give for one tariff's bill of `month`, in one
    query (a USSD estimate's budget): ({tariff id: rates}, {price index id: price})."""
    price = PriceIndexValue.objects.filter(index_id=OuterRef("price_index_id"), month=month)
    rows = (
        TariffVersion.objects.filter(
            tariff_id=tariff_id, effective_from__lte=period_bounds(month)[1]
        )
        .annotate(index_price=Subquery(price.values("price")[:1]))
        .order_by("effective_from", "pk")
        .values_list("pk", *VERSION_FIELDS, "index_price", "tiers__up_to", "tiers__price")
    )
    fields, tiers, prices = {}, defaultdict(list), {}
    for pk, *version, index_price, up_to, tier_price in rows:
        fields[pk] = dict(zip(VERSION_FIELDS, version, strict=True))
        if tier_price is not None:
            tiers[pk].append((up_to, tier_price))
        if index_price is not None:
            prices[fields[pk]["price_index_id"]] = index_price
    rates = [Rate.from_fields(version, tiers[pk]) for pk, version in fields.items()]
    return ({tariff_id: rates} if rates else {}), prices


def account_lines(
    *,
    account: ServiceAccount,
    rates: dict[int, list[Rate]],
    prices: dict[int, Decimal],
    consumption: Decimal,
    period: date,
) -> list[Line]:
    """The account's lines for the period; refuses a negative total (InvoiceTotalNegative)."""
    start, end = period_bounds(period)
    lines = tariff_lines(
        rates=rates.get(account.tariff_id, ()),
        consumption=consumption,
        period_start=start,
        period_end=end,
        currency=account.operator.currency,
        index_prices=prices,
        unit=UNITS.get(account.utility, ""),
    )
    total = sum(line.amount.minor for line in lines)
    if total < 0:
        raise InvoiceTotalNegative(extra={"account": account.number, "total_minor": total})
    return lines


def invoice_build(
    *,
    account: ServiceAccount,
    period: date,
    lines: list[Line],
    usage: PeriodConsumption,
    issue_date: date,
    number: str = "",
    replaces: Invoice | None = None,
) -> Invoice:
    """The unsaved invoice for computed lines (`number` may be set later, before saving)."""
    operator = account.operator
    start, end = period_bounds(period)
    total = sum(line.amount.minor for line in lines)
    return Invoice(
        operator=operator,
        account=account,
        kind=InvoiceKind.INVOICE,
        number=number,
        status=InvoiceStatus.ISSUED if total else InvoiceStatus.PAID,
        period=start,
        period_start=start,
        period_end=end,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=operator.invoice_due_days),
        currency=operator.currency,
        total_minor=total,
        consumption=usage.quantity,
        is_estimated=usage.is_estimated,
        replaces=replaces,
    )


LINE_FIELDS = (
    "invoice",
    "position",
    "kind",
    "description",
    "quantity",
    "unit_price",
    "amount_minor",
)


def invoice_line_rows(invoice: Invoice, lines: list[Line]) -> list[tuple]:
    """The invoice's lines as rows of LINE_FIELDS (see billing.bulk.rows_insert)."""
    return [
        (
            invoice.pk,
            position,
            line.kind,
            line.description[:200],
            line.quantity,
            line.unit_price,
            line.amount.minor,
        )
        for position, line in enumerate(lines, start=1)
    ]


def invoice_journal(
    invoice: Invoice,
    lines: list[Line],
    *,
    receivable: LedgerAccount,
    revenue: LedgerAccount,
    vat: LedgerAccount,
) -> JournalSpec | None:
    """Dr receivable total; Cr revenue (lines before VAT); Cr vat_payable. None if zero."""
    tax = sum(line.amount.minor for line in lines if line.kind == LineKind.VAT)
    amounts = [
        (receivable, invoice.total_minor),
        (revenue, -(invoice.total_minor - tax)),
        (vat, -tax),
    ]
    postings = tuple(Posting(account, amount) for account, amount in amounts if amount)
    if not postings:
        return None
    return JournalSpec(JournalKind.INVOICE, "invoice", str(invoice.pk), postings, invoice.number)


def revenue_accounts(*, operator: Operator, utilities: Iterable[str]) -> dict[str, LedgerAccount]:
    """revenue:<utility> for each utility plus "vat" -> vat_payable, created on first use."""
    currency = operator.currency
    accounts = {
        utility: ledger_account_get(
            operator=operator, kind=LedgerAccountKind.REVENUE, currency=currency, detail=utility
        )
        for utility in set(utilities)
    }
    accounts["vat"] = ledger_account_get(
        operator=operator, kind=LedgerAccountKind.VAT_PAYABLE, currency=currency
    )
    return accounts


# --- services ---------------------------------------------------------------------------------
def _latest_for_period(account: ServiceAccount, period: date) -> Invoice | None:
    invoices = Invoice.objects.filter(account=account, period=period, kind=InvoiceKind.INVOICE)
    return invoices.order_by("-pk").first()


def _issue(
    *,
    account: ServiceAccount,
    period: date,
    usage: PeriodConsumption,
    replaces: Invoice | None = None,
) -> Invoice:
    operator = account.operator
    start, end = period_bounds(period)
    lines = account_lines(
        account=account,
        rates=tariff_rates(tariff_ids=[account.tariff_id], period_end=end),
        prices=index_prices(operator=operator, month=start),
        consumption=usage.quantity,
        period=period,
    )
    (number,) = sequence_take(operator=operator, kind="invoice", count=1)
    invoice = invoice_build(
        account=account,
        period=period,
        number=document_number(operator=operator, kind="invoice", number=number),
        lines=lines,
        usage=usage,
        issue_date=operator_today(operator),
        replaces=replaces,
    )
    invoice.save()
    rows_insert(InvoiceLine, LINE_FIELDS, invoice_line_rows(invoice, lines))
    ledger = revenue_accounts(operator=operator, utilities=[account.utility])
    receivable = ledger_account_get(
        operator=operator,
        kind=LedgerAccountKind.RECEIVABLE,
        currency=operator.currency,
        service_account=account,
    )
    journal = invoice_journal(
        invoice, lines, receivable=receivable, revenue=ledger[account.utility], vat=ledger["vat"]
    )
    if journal:
        ledger_post_many(operator=operator, journals=[journal])
    if replaces is not None:
        MeterReading.objects.filter(invoice=replaces).update(invoice=invoice)
    elif usage.readings:
        readings_mark_invoiced({account.pk: usage.readings}, {account.pk: invoice})
    customer_credit_apply(account=account)
    invoice.refresh_from_db()
    return invoice


@transaction.atomic
def invoice_issue(*, account: ServiceAccount, period: date) -> Invoice:
    """The account's invoice for the month holding `period`, issued once.

    Calling it again for the same account and month returns the invoice already issued (the
    latest correction, if the first was reissued) and changes nothing.
    """
    account = service_account_lock(account_id=account.pk)
    start, end = period_bounds(period)
    existing = _latest_for_period(account, start)
    if existing is not None:
        return existing
    usage = period_consumption(account=account, period_start=start, period_end=end)
    return _issue(account=account, period=start, usage=usage)


@transaction.atomic
def invoice_reissue(*, original: Invoice, actor, reason: str = "Corrected invoice") -> Invoice:
    """Credit all of `original` and issue the invoice that replaces it (same period).

    The replacement bills the readings of the original (they move to it) with the tariff as it
    stands now. Refused (InvoiceNotReissuable) for penalties and fees and for an invoice that
    payments were allocated to: credit the difference with a credit note instead. The original
    ends cancelled. Idempotent: if `original` was already replaced, its replacement is
    returned.
    """
    account = service_account_lock(account_id=original.account_id)
    original = Invoice.objects.get(pk=original.pk)
    replacement = Invoice.objects.filter(replaces=original).first()
    if replacement is not None:
        return replacement
    if original.kind != InvoiceKind.INVOICE or original.period is None or original.paid_minor:
        raise InvoiceNotReissuable(extra={"invoice": original.number})
    if original.open_minor > 0:
        credit_note_issue(
            invoice=original,
            amount=Money(original.open_minor, original.currency),
            reason=reason,
            actor=actor,
        )
    readings = list(MeterReading.objects.filter(invoice=original))
    usage = PeriodConsumption(
        quantity=sum((reading.consumption for reading in readings), Decimal(0)),
        is_estimated=any(reading.is_estimated for reading in readings),
        readings=readings,
    )
    replacement = _issue(account=account, period=original.period, usage=usage, replaces=original)
    # Fully credited, the original reads "paid"; it was never paid but withdrawn: cancelled
    # (a status no payment, credit note or dunning stage touches again).
    Invoice.objects.filter(pk=original.pk).update(status=InvoiceStatus.CANCELLED)
    return replacement
