"""Operator statements: match what the operator says it received against what we recorded.

M-Pesa statement CSV (as exported from the M-Pesa org portal). Lines before the header row
(title, organisation, period) are skipped; the header row is the first that has "Receipt No.".
Column names are matched ignoring case and surrounding spaces:

| column | needed | meaning |
|---|---|---|
| Receipt No. | yes | the M-Pesa receipt (TransID / MpesaReceiptNumber) |
| Completion Time | yes | 2024-01-15 10:21:05, 15-01-2024 10:21:05 or 15/01/2024 10:21 (Nairobi) |
| Paid In | yes | money received (1,200.00); rows with nothing paid in are skipped |
| Transaction Status | no | only "Completed" rows count |
| A/C No. | no | the account number the payer typed (BillRefNumber / AccountReference) |
| Details | no | free text; "Acc. 100000011" in it is read when A/C No. is missing |
| Other Party Info | no | the payer as the portal shows it |

Other columns (Initiation Time, Withdrawn, Balance, Reason Type, ...) are ignored.

A receipt is on our side when a payment is keyed on it, an intent learnt it, or it sits in
suspense. Missing money is recorded (without dry run) through the paybill path: credited to
the account it names or parked in suspense, idempotent on the receipt, so importing the same
statement twice records nothing more.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.errors import ApplicationError
from billing.models import Payment
from billing.money import Money
from payments.models import PaymentIntent, SuspensePayment
from payments.providers.base import PaybillPayment
from payments.services.paybill import paybill_payment_record

NAIROBI = ZoneInfo("Africa/Nairobi")
REQUIRED = ("receipt no.", "completion time", "paid in")
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%dT%H:%M:%S",
)
_ACCOUNT_IN_DETAILS = re.compile(
    r"acc(?:ount)?\.?\s*(?:no\.?)?\s*[:#]?\s*([0-9][0-9\s\-]{4,})", re.I
)


class StatementInvalid(ApplicationError):
    code = "statement_invalid"
    message = "The statement file cannot be read."


@dataclass(frozen=True)
class StatementLine:
    row: int  # line number in the file
    receipt: str
    completed_at: datetime
    amount: Money
    account_reference: str
    payer: str


@dataclass
class StatementReport:
    lines: int = 0
    matched: list[str] = field(default_factory=list)
    missing_ours: list[StatementLine] = field(default_factory=list)  # on the statement only
    missing_statement: list[Payment] = field(default_factory=list)  # in our books only
    amount_differs: list[tuple[str, Money, Money]] = field(default_factory=list)
    recorded: dict[str, str] = field(default_factory=dict)  # receipt -> what it became


def _time(text: str, row: int) -> datetime:
    for fmt in TIME_FORMATS:
        try:
            moment = datetime.strptime(text.strip(), fmt)  # naive: Nairobi, below
        except ValueError:
            continue
        return timezone.make_aware(moment, NAIROBI)
    raise StatementInvalid(f"Line {row}: unreadable Completion Time {text!r}.")


def _amount(text: str, row: int, currency: str) -> Money | None:
    cleaned = (text or "").replace(",", "").strip()
    if cleaned in ("", "-"):
        return None
    try:
        money = Money.of(Decimal(cleaned), currency)
    except (ArithmeticError, ValueError) as exc:  # not a number, infinite, finer than cents
        raise StatementInvalid(f"Line {row}: unreadable Paid In {text!r}.") from exc
    return money if money.minor > 0 else None


def _account_reference(columns: dict[str, str]) -> str:
    typed = columns.get("a/c no.", "").strip()
    if typed:
        return typed
    found = _ACCOUNT_IN_DETAILS.search(columns.get("details", ""))
    return found.group(1).strip() if found else ""


def statement_parse(text: str, *, currency: str = "KES") -> list[StatementLine]:
    """The money-in lines of an M-Pesa statement CSV (see the module docstring)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    start = next(
        (i for i, r in enumerate(rows) if "receipt no." in [c.strip().lower() for c in r]), None
    )
    if start is None:
        raise StatementInvalid("No header row with a 'Receipt No.' column.")
    header = [c.strip().lower() for c in rows[start]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise StatementInvalid(f"Missing columns: {', '.join(missing)}.")
    lines = []
    for offset, values in enumerate(rows[start + 1 :], start=start + 2):
        if not any(v.strip() for v in values):
            continue
        columns = dict(zip(header, values, strict=False))
        status = columns.get("transaction status", "completed").strip().lower()
        amount = _amount(columns.get("paid in", ""), offset, currency)
        receipt = columns.get("receipt no.", "").strip()
        if amount is None or status != "completed" or not receipt:
            continue
        lines.append(
            StatementLine(
                row=offset,
                receipt=receipt,
                completed_at=_time(columns.get("completion time", ""), offset),
                amount=amount,
                account_reference=_account_reference(columns),
                payer=columns.get("other party info", "").strip(),
            )
        )
    return lines


def statement_reconcile(
    *, provider: str, lines: list[StatementLine], dry_run: bool = False
) -> StatementReport:
    """Compare the statement with our records; without `dry_run`, record the missing money."""
    report = StatementReport(lines=len(lines))
    receipts = {line.receipt for line in lines}
    payments = {
        p.reference: p
        for p in Payment.objects.filter(source=provider, reference__in=receipts).select_related(
            "account"
        )
    }
    learnt = dict(
        PaymentIntent.objects.filter(provider=provider, receipt__in=receipts)
        .exclude(payment=None)
        .values_list("receipt", "payment_id")
    )
    parked = set(
        SuspensePayment.objects.filter(provider=provider, receipt__in=receipts).values_list(
            "receipt", flat=True
        )
    )
    for line in lines:
        payment = payments.get(line.receipt)
        if payment is None and line.receipt not in learnt and line.receipt not in parked:
            report.missing_ours.append(line)
            continue
        report.matched.append(line.receipt)
        if payment is not None and payment.amount_minor != line.amount.minor:
            ours = Money(payment.amount_minor, payment.currency)
            report.amount_differs.append((line.receipt, line.amount, ours))
    if lines:
        report.missing_statement = _ours_only(provider, lines, receipts, set(learnt.values()))
    if not dry_run:
        for line in report.missing_ours:
            paybill = PaybillPayment(
                receipt=line.receipt,
                amount=line.amount,
                bill_reference=line.account_reference,
                payer=line.payer,
            )
            result = paybill_payment_record(
                provider=provider, paybill=paybill, received_at=line.completed_at
            )
            report.recorded[line.receipt] = f"{result._meta.model_name} {result.pk}"
    return report


def _ours_only(provider, lines, receipts, learnt_payment_ids) -> list[Payment]:
    start = min(line.completed_at for line in lines)
    end = max(line.completed_at for line in lines)
    ours = Payment.objects.filter(
        source=provider, received_at__gte=start, received_at__lte=end
    ).select_related("account")
    return [
        p
        for p in ours.order_by("received_at")
        if p.reference not in receipts and p.pk not in learnt_payment_ids
    ]
