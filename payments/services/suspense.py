"""The suspense list: money received that matched no account, or matched ambiguously.

Parked money is posted Dr clearing:<provider> / Cr suspense, directly to the ledger as an
adjustment because it is nobody's payment yet. Staff allocate it to an account (Dr suspense /
Cr the customer, through payment_record) or mark it for refund; both are audited.

Candidates shown to staff: account numbers one edit away from what was typed (a digit changed,
added, dropped or two adjacent digits swapped) that pass the check digit and exist, and the
accounts whose owner or contact phone hashes (SHA-256 of 2547XXXXXXXX) to the payer's hash.
Reasons: bad_check_digit, ambiguous_account (the number exists at several operators),
ambiguous_payer (no usable number; the payer's phone owns several accounts), unknown_account.
"""

import hashlib
import logging
import re
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from stdnum import damm

from accounts.audit import audit_record, audit_snapshot
from billing.account_numbers import NUMBER_BODY_DIGITS, account_number_clean
from billing.ledger import Posting, ledger_account_get, ledger_post
from billing.models import (
    AccountContact,
    JournalKind,
    JournalTransaction,
    LedgerAccountKind,
    Operator,
    ServiceAccount,
)
from billing.money import Money
from billing.services.payments import payment_record
from payments.exceptions import SuspenseNotFound, SuspenseResolved
from payments.models import SuspensePayment, SuspenseStatus
from payments.providers.base import PaybillPayment
from payments.services.receipts import receipt_sms_queue

logger = logging.getLogger(__name__)

NUMBER_LENGTH = NUMBER_BODY_DIGITS + 1
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


def near_miss_numbers(text: str) -> set[str]:
    """Valid account numbers one edit (change, insert, drop, adjacent swap) from `text`."""
    digits = re.sub(r"\D", "", text or "")
    if not NUMBER_LENGTH - 1 <= len(digits) <= NUMBER_LENGTH + 1:
        return set()
    edits = set()
    for i in range(len(digits) + 1):
        for d in "0123456789":
            edits.add(digits[:i] + d + digits[i:])
            if i < len(digits):
                edits.add(digits[:i] + d + digits[i + 1 :])
        if i < len(digits):
            edits.add(digits[:i] + digits[i + 1 :])
        if i + 1 < len(digits):
            edits.add(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    edits.discard(digits)
    return {e for e in edits if len(e) == NUMBER_LENGTH and damm.is_valid(e)}


def phone_hash(e164: str) -> str:
    """How M-Pesa hashes an MSISDN in C2B callbacks: SHA-256 hex of 2547XXXXXXXX."""
    return hashlib.sha256(e164.lstrip("+").encode()).hexdigest()


def _payer_accounts(payer: str) -> list[ServiceAccount]:
    payer = (payer or "").strip().lower()
    if not _HEX_HASH.fullmatch(payer):
        return []
    owners = ServiceAccount.objects.values_list("owner__phone", flat=True).distinct()
    contacts = AccountContact.objects.values_list("phone", flat=True).distinct()
    phones = {p for p in (*owners, *contacts) if phone_hash(p) == payer}
    if not phones:
        return []
    by_owner = ServiceAccount.objects.filter(owner__phone__in=phones)
    by_contact = ServiceAccount.objects.filter(contacts__phone__in=phones)
    return list((by_owner | by_contact).distinct().order_by("number")[:10])


def suspense_candidates(*, bill_reference: str, payer: str) -> list[dict[str, str]]:
    near = ServiceAccount.objects.filter(number__in=near_miss_numbers(bill_reference))
    candidates = {a.number: "near-miss account number" for a in near.order_by("number")[:10]}
    for account in _payer_accounts(payer):
        candidates.setdefault(account.number, "payer's phone")
    return [{"account": number, "why": why} for number, why in candidates.items()]


def _suspense_reason(bill_reference: str, candidates: list[dict[str, str]]) -> str:
    digits = re.sub(r"[\s\-./]", "", bill_reference or "")
    if digits.isdigit() and len(digits) == NUMBER_LENGTH and not damm.is_valid(digits):
        return "bad_check_digit"
    if (
        account_number_clean(bill_reference or "")
        and ServiceAccount.objects.filter(number=account_number_clean(bill_reference)).exists()
    ):
        return "ambiguous_account"
    if sum(c["why"] == "payer's phone" for c in candidates) > 1:
        return "ambiguous_payer"
    return "unknown_account"


def _suspense_operator(provider: str, currency: str) -> Operator:
    shortcode = settings.PAYMENT_PROVIDERS.get(provider, {}).get("options", {}).get("shortcode")
    operators = Operator.objects.filter(currency=currency).order_by("pk")
    return (shortcode and operators.filter(paybill=str(shortcode)).first()) or operators.first()


def suspense_open(
    *, provider: str, paybill: PaybillPayment, received_at: datetime | None, reason: str = ""
) -> SuspensePayment:
    """Park paybill money nobody could match (or, with `reason`, money staff must look at),
    with candidates, against clearing."""
    candidates = suspense_candidates(bill_reference=paybill.bill_reference, payer=paybill.payer)
    suspense = SuspensePayment.objects.create(
        provider=provider,
        receipt=paybill.receipt,
        currency=paybill.amount.currency,
        amount_minor=paybill.amount.minor,
        bill_reference=paybill.bill_reference[:64],
        payer=(paybill.payer or paybill.payer_name)[:100],
        reason=reason or _suspense_reason(paybill.bill_reference, candidates),
        candidates=candidates,
        received_at=received_at or timezone.now(),
    )
    operator = _suspense_operator(provider, paybill.amount.currency)

    def ledger(kind: str, detail: str = ""):
        return ledger_account_get(
            operator=operator, kind=kind, currency=suspense.currency, detail=detail
        )

    ledger_post(
        operator=operator,
        kind=JournalKind.ADJUSTMENT,
        source_type="suspense",
        source_id=suspense.pk,
        postings=[
            Posting(ledger(LedgerAccountKind.CLEARING, provider), suspense.amount_minor),
            Posting(ledger(LedgerAccountKind.SUSPENSE), -suspense.amount_minor),
        ],
        memo=f"Unmatched {provider} payment {suspense.receipt}",
    )
    logger.info(
        "payment parked in suspense",
        extra={"provider": provider, "receipt": suspense.receipt, "reason": suspense.reason},
    )
    return suspense


def _open_locked(suspense_id: int) -> SuspensePayment:
    suspense = SuspensePayment.objects.select_for_update().filter(pk=suspense_id).first()
    if suspense is None:
        raise SuspenseNotFound()
    if suspense.status != SuspenseStatus.OPEN:
        raise SuspenseResolved(extra={"status": suspense.status})
    return suspense


@transaction.atomic
def suspense_allocate(*, suspense_id: int, account: ServiceAccount, actor) -> SuspensePayment:
    """Give parked money to `account`: Dr suspense / Cr the customer. Audited."""
    suspense = _open_locked(suspense_id)
    before = audit_snapshot(suspense)
    journal = JournalTransaction.objects.filter(
        source_type="suspense", source_id=str(suspense.pk), kind=JournalKind.ADJUSTMENT
    ).first()
    if journal is not None and journal.operator_id != account.operator_id:
        raise SuspenseResolved(
            "This money was received for another operator's paybill.",
            extra={"operator": journal.operator_id},
        )
    payment = payment_record(
        account=account,
        amount=Money(suspense.amount_minor, suspense.currency),
        source=suspense.provider,
        reference=suspense.receipt,
        received_at=suspense.received_at,
        recorded_by=actor,
        clearing="suspense",
    )
    suspense.status = SuspenseStatus.ALLOCATED
    suspense.allocated_account = account
    suspense.payment = payment
    suspense.resolved_by = actor
    suspense.resolved_at = timezone.now()
    suspense.save()
    audit_record(
        actor=actor,
        action="suspense.allocate",
        instance=suspense,
        before=before,
        after=audit_snapshot(suspense),
    )
    receipt_sms_queue(payment=payment, to=account.owner.phone)
    return suspense


@transaction.atomic
def suspense_refund_mark(*, suspense_id: int, actor, note: str = "") -> SuspensePayment:
    """Mark parked money to be sent back to the payer (the refund itself happens outside)."""
    suspense = _open_locked(suspense_id)
    before = audit_snapshot(suspense)
    suspense.status = SuspenseStatus.REFUND
    suspense.resolved_by = actor
    suspense.resolved_at = timezone.now()
    suspense.save()
    audit_record(
        actor=actor,
        action="suspense.refund",
        instance=suspense,
        before=before,
        after={**audit_snapshot(suspense), "note": note[:200]},
    )
    return suspense
