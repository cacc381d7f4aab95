"""The monthly billing run: an invoice for every active service account of an operator.

Accounts are taken in chunks of consecutive ids (keyset pagination: memory does not grow with
the number of accounts), each chunk in one transaction with a constant number of queries
whatever its size: the chunk's accounts locked, those already invoiced for the period skipped
(so a second run creates nothing twice), consumption of the others in bulk, lines computed,
then one block of gap-free invoice numbers for the chunk, invoices, lines and ledger postings
inserted in bulk, readings marked invoiced with one UPDATE, and customer credit applied to
the accounts that have some (found with one query). Tariffs, their versions, tiers and the
month's price index values are read once per run.

The invoice-number row lock is taken as late as possible (after the reads and the tariff
computation) and held to the chunk's commit, so with `workers` > 1 processes one chunk
computes while another writes; numbers stay gap-free, and sequential within each chunk.

An account whose tariff cannot price the period (no version in force, a missing index value,
an estimate correction larger than the period's charges) is counted under its error code and
left for the next run; a database error rolls back its chunk (numbers included, so no gap)
and stops the run, which can simply be run again.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.util
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date

from django.db import connection, connections, transaction
from django.db.models import OuterRef, Q, Subquery, Sum

from accounts.errors import ApplicationError
from billing.bulk import objects_insert, rows_insert
from billing.ledger import ledger_post_many
from billing.models import (
    AccountStatus,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    LedgerAccount,
    LedgerAccountKind,
    LedgerEntry,
    Meter,
    MeterReading,
    Operator,
    ServiceAccount,
    Tariff,
)
from billing.sequences import document_number, sequence_take
from billing.services.consumption import ReadingsAlreadyInvoiced
from billing.services.invoices import (
    LINE_FIELDS,
    account_lines,
    index_prices,
    invoice_build,
    invoice_journal,
    invoice_line_rows,
    operator_today,
    period_bounds,
    revenue_accounts,
    tariff_rates,
)
from billing.services.payments import customer_credit_apply
from billing.services.readings import period_consumption_bulk

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000


def _in_range(field: str, ids: tuple[int, int | None]) -> Q:
    """`field` in the chunk's id range (low, high]: cheaper than a list of a thousand ids."""
    low, high = ids
    condition = Q(**{f"{field}__gt": low})
    return condition if high is None else condition & Q(**{f"{field}__lte": high})


def _receivables(
    operator: Operator, accounts: list[ServiceAccount], ids: tuple[int, int | None]
) -> dict[int, LedgerAccount]:
    """receivable:<number> of each account, created in bulk where missing (1 or 2 queries).

    The accounts are locked, and receivables are only ever created under that lock.
    """
    kind, currency = LedgerAccountKind.RECEIVABLE, operator.currency
    rows = LedgerAccount.objects.filter(
        _in_range("service_account_id", ids), operator=operator, kind=kind, currency=currency
    )
    found = {row.service_account_id: row for row in rows}
    missing = [
        LedgerAccount(
            operator=operator,
            kind=kind,
            code=f"{kind}:{account.number}",
            currency=currency,
            service_account=account,
        )
        for account in accounts
        if account.pk not in found
    ]
    if missing:
        objects_insert(LedgerAccount, missing)
        found |= {row.service_account_id: row for row in missing}
    return found


def _readings_mark_invoiced(reading_ids: list[int], period: date) -> None:
    """Put each reading on its account's invoice for the period: one UPDATE for the chunk.

    (readings_mark_invoiced builds a CASE branch per invoice, which at a thousand invoices
    cost more than the rest of the chunk; here each row finds its invoice by a subquery.)
    """
    if not reading_ids:
        return
    account = Meter.objects.filter(pk=OuterRef(OuterRef("meter_id"))).values("account_id")
    invoice = Invoice.objects.filter(
        account_id=Subquery(account[:1]),
        period=period,
        kind=InvoiceKind.INVOICE,
        replaces__isnull=True,
    ).values("pk")
    updated = MeterReading.objects.filter(pk__in=reading_ids, invoice__isnull=True).update(
        invoice_id=Subquery(invoice[:1])
    )
    if updated != len(set(reading_ids)):
        raise ReadingsAlreadyInvoiced()


def _accounts_with_credit(operator: Operator, ids: tuple[int, int | None]) -> set[int]:
    balances = (
        LedgerEntry.objects.filter(
            _in_range("account__service_account_id", ids),
            account__operator=operator,
            account__kind=LedgerAccountKind.CUSTOMER_CREDIT,
        )
        .values("account__service_account_id")
        .annotate(balance=Sum("amount_minor"))
        .filter(balance__lt=0)
    )
    return set(balances.values_list("account__service_account_id", flat=True))


def _priced(accounts, usages, context, period) -> tuple[list, Counter]:
    """(account, lines, usage) of each account the tariff can price, and the errors."""
    drafts, errors = [], Counter()
    for account in accounts:
        usage = usages[account.pk]
        try:
            lines = account_lines(
                account=account,
                rates=context["rates"],
                prices=context["prices"],
                consumption=usage.quantity,
                period=period,
            )
        except ApplicationError as error:
            errors[error.code] += 1
            continue
        drafts.append((account, lines, usage))
    return drafts, errors


@transaction.atomic
def _chunk_bill(
    *, operator: Operator, period: date, ids: tuple[int, int | None], context: dict
) -> tuple[int, int, Counter]:
    """Bill the active accounts with ids in (low, high]: (accounts, invoices made, errors)."""
    start, end = period_bounds(period)
    chunk = ServiceAccount.objects.filter(
        _in_range("pk", ids), operator=operator, status=AccountStatus.ACTIVE
    )
    accounts = list(chunk.order_by("pk").select_for_update())
    invoiced = set(
        Invoice.objects.filter(
            _in_range("account_id", ids), operator=operator, period=start, kind=InvoiceKind.INVOICE
        ).values_list("account_id", flat=True)
    )
    todo = [account for account in accounts if account.pk not in invoiced]
    for account in todo:
        account.operator = operator
    usages = period_consumption_bulk(accounts=todo, period_start=start, period_end=end)
    drafts, errors = _priced(todo, usages, context, start)
    if errors:
        logger.warning(
            "billing run: accounts not billed",
            extra={"operator": operator.slug, "period": f"{start:%Y-%m}", "errors": dict(errors)},
        )
    if not drafts:
        return len(accounts), 0, errors
    receivables = _receivables(operator, [account for account, _, _ in drafts], ids)
    invoices = [
        invoice_build(
            account=account, period=start, lines=lines, usage=usage, issue_date=context["today"]
        )
        for account, lines, usage in drafts
    ]
    # From here to the commit this chunk holds the invoice-number lock.
    numbers = sequence_take(operator=operator, kind="invoice", count=len(drafts))
    for invoice, number in zip(invoices, numbers, strict=True):
        invoice.number = document_number(operator=operator, kind="invoice", number=number)
    objects_insert(Invoice, invoices)
    pairs = list(zip(invoices, drafts, strict=True))
    rows = (row for invoice, (_, lines, _) in pairs for row in invoice_line_rows(invoice, lines))
    rows_insert(InvoiceLine, LINE_FIELDS, rows)
    ledger = context["ledger"]
    journals = [
        invoice_journal(
            invoice,
            lines,
            receivable=receivables[account.pk],
            revenue=ledger[account.utility],
            vat=ledger["vat"],
        )
        for invoice, (account, lines, _) in pairs
    ]
    journals = [journal for journal in journals if journal]
    if journals:
        ledger_post_many(operator=operator, journals=journals)
    _readings_mark_invoiced([r.pk for _, _, usage in drafts for r in usage.readings], start)
    with_credit = _accounts_with_credit(operator, ids)
    for account, _, _ in drafts:
        if account.pk in with_credit:
            customer_credit_apply(account=account)
    return len(accounts), len(drafts), errors


def _ranges(operator: Operator, size: int) -> list[tuple[int, int | None]]:
    """Consecutive (low, high] id ranges of `size` active accounts; the last is open-ended.

    One streamed query; only every size-th id is kept (N / size numbers in memory).
    """
    ids = ServiceAccount.objects.filter(operator=operator, status=AccountStatus.ACTIVE)
    stream = ids.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=10 * size)
    bounds = [pk for n, pk in enumerate(stream, start=1) if n % size == 0]
    return list(zip([0, *bounds], [*bounds, None], strict=True))


def _worker_start() -> None:
    """A worker process keeps one connection (a new one per chunk costs the server a cold
    session each time) and closes it when the pool is closed."""
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)


def _chunk_job(job: tuple) -> tuple[int, int, Counter]:
    return _chunk_bill(operator=job[0], period=job[1], ids=job[2], context=job[3])


def billing_run(
    *,
    operator: Operator,
    period: date,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    workers: int = 1,
) -> dict:
    """Invoice every active account of `operator` for the month holding `period`.

    Returns {"accounts", "created", "skipped", "errors", "error_codes"}; `progress`, if given,
    is called with the number of accounts handled after each committed chunk. `workers` > 1
    bills chunks in that many forked processes (PostgreSQL only; from a command, not from a
    threaded server), so that Python and the database keep more than one core busy.
    """
    if workers > 1 and (connection.vendor != "postgresql" or connection.in_atomic_block):
        raise ValueError("billing in several processes needs PostgreSQL, outside a transaction")
    start, end = period_bounds(period)
    tariffs = Tariff.objects.filter(operator=operator)
    context = {
        "rates": tariff_rates(tariff_ids=tariffs.values("pk"), period_end=end),
        "prices": index_prices(operator=operator, month=start),
        "ledger": revenue_accounts(
            operator=operator, utilities=tariffs.values_list("utility", flat=True)
        ),
        "today": operator_today(operator),
    }
    jobs = [(operator, start, ids, context) for ids in _ranges(operator, chunk_size)]
    summary = {"accounts": 0, "created": 0, "skipped": 0, "errors": 0}
    codes: Counter = Counter()
    for accounts, created, errors in _results(jobs, workers):
        failed = sum(errors.values())
        codes.update(errors)
        summary["accounts"] += accounts
        summary["created"] += created
        summary["errors"] += failed
        summary["skipped"] += accounts - created - failed
        if progress is not None:
            progress(accounts)
    logger.info("billing run done", extra={"operator": operator.slug, "summary": summary})
    return {**summary, "error_codes": dict(codes)}


def _results(jobs: list[tuple], workers: int) -> Iterator[tuple[int, int, Counter]]:
    if workers <= 1:
        for job in jobs:
            yield _chunk_bill(operator=job[0], period=job[1], ids=job[2], context=job[3])
        return
    # Forked children must not share the parent's connection: none is open when they start.
    connections.close_all()
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start)
    try:
        yield from pool.imap_unordered(_chunk_job, jobs)
    except BaseException:
        pool.terminate()  # a chunk still running rolls back with its connection
        raise
    else:
        pool.close()
    finally:
        pool.join()
