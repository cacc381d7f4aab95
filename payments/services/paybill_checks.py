"""Paybill confirmations checked with the operator before they are credited.

A paybill (C2B) confirmation is unsigned: anyone who learns the URL could post one. When the
provider can ask about a receipt (M-Pesa with its initiator configured: `confirms_paybill`),
the confirmation is held as a PaybillCheck and a worker asks Transaction Status about its
TransID; Daraja POSTs the answer to our result URL later (a callback like any other, stored raw
first). A Completed answer for that receipt records the money as paybill_payment_record does
(the account it names, or suspense), with the amount the operator reports; any other final
answer refuses it (nothing credited, logged). With no answer the question is asked again
after QUERY_AGAIN, and after MAX_QUERIES the money goes to suspense for staff to decide.
Without the capability the confirmation is recorded at once (services/paybill.py).
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from billing.models import Payment
from billing.money import Money
from payments.models import PaybillCheck, PaybillCheckStatus, SuspensePayment
from payments.providers import provider_get
from payments.providers.base import Outcome, PaybillPayment, ProviderError, Verdict
from payments.services.paybill import paybill_money_known, paybill_payment_record
from payments.services.push import public_url
from payments.services.suspense import suspense_open

logger = logging.getLogger(__name__)

QUERY_AGAIN = (timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))
MAX_QUERIES = len(QUERY_AGAIN)
RESULT_URL, TIMEOUT_URL = "payments:mpesa-status-result", "payments:mpesa-status-timeout"


def paybill_needs_check(provider: str) -> bool:
    return bool(getattr(provider_get(provider), "confirms_paybill", False))


def _paybill(check: PaybillCheck, amount: Money | None = None) -> PaybillPayment:
    return PaybillPayment(
        receipt=check.receipt,
        amount=amount or Money(check.amount_minor, check.currency),
        bill_reference=check.bill_reference,
        payer=check.payer,
        payer_name=check.payer_name,
    )


def paybill_check_open(
    *, provider: str, paybill: PaybillPayment
) -> PaybillCheck | Payment | SuspensePayment:
    """Hold a paybill confirmation until the operator confirms it (money already recorded by
    another path is returned as it is); the question is asked by a worker after commit."""
    known = paybill_money_known(provider=provider, receipt=paybill.receipt)
    if known is not None:
        return known
    check, created = PaybillCheck.objects.get_or_create(
        provider=provider,
        receipt=paybill.receipt[:64],
        defaults={
            "currency": paybill.amount.currency,
            "amount_minor": paybill.amount.minor,
            "bill_reference": paybill.bill_reference[:64],
            "payer": paybill.payer[:100],
            "payer_name": paybill.payer_name[:100],
            "next_query_at": timezone.now() + QUERY_AGAIN[0],  # the sweep, if the task is lost
        },
    )
    if created:
        from payments.tasks import paybill_check_ask_task

        transaction.on_commit(lambda: paybill_check_ask_task.delay(check.pk))
    return check


def paybill_check_ask(*, check_id: int) -> str:
    """Ask the operator about a waiting check (a worker's job: an HTTP call, outside any
    transaction); after MAX_QUERIES unanswered questions, park the money in suspense."""
    now = timezone.now()
    check = PaybillCheck.objects.filter(pk=check_id, status=PaybillCheckStatus.WAITING).first()
    if check is None:
        return "settled"
    if check.queries >= MAX_QUERIES:
        return _unanswered(check_id)
    conversation = ""
    try:
        conversation = provider_get(check.provider).paybill_status_ask(
            receipt=check.receipt,
            result_url=public_url(check.provider, RESULT_URL),
            timeout_url=public_url(check.provider, TIMEOUT_URL),
        )
    except ProviderError as exc:
        logger.warning(
            "paybill check not asked",
            extra={"provider": check.provider, "receipt": check.receipt, "code": exc.code},
        )
    PaybillCheck.objects.filter(pk=check.pk, status=PaybillCheckStatus.WAITING).update(
        conversation_id=conversation or check.conversation_id,
        queries=check.queries + 1,
        next_query_at=now + QUERY_AGAIN[check.queries],
    )
    return "asked" if conversation else "not asked"


@transaction.atomic
def _unanswered(check_id: int) -> str:
    check = PaybillCheck.objects.select_for_update().get(pk=check_id)
    if check.status != PaybillCheckStatus.WAITING:
        return "settled"
    parked = suspense_open(
        provider=check.provider,
        paybill=_paybill(check),
        received_at=check.received_at,
        reason="unconfirmed",
    )
    _settle(check, PaybillCheckStatus.UNANSWERED, f"no answer: suspense {parked.pk}")
    logger.warning(
        "paybill money unconfirmed",
        extra={"provider": check.provider, "receipt": check.receipt, "suspense": parked.pk},
    )
    return "unanswered"


def _settle(check: PaybillCheck, status: str, outcome: str) -> None:
    check.status, check.outcome, check.next_query_at = status, outcome[:200], None
    check.save(update_fields=["status", "outcome", "next_query_at"])


def paybill_check_answer(*, provider: str, conversation_id: str, verdict: Verdict) -> str | None:
    """Apply the operator's answer about a held confirmation (in the caller's transaction):
    the outcome, or None when no waiting check asked that question."""
    check = (
        PaybillCheck.objects.select_for_update()
        .filter(provider=provider, conversation_id=conversation_id)
        .first()
    )
    if check is None:
        return None
    if check.status != PaybillCheckStatus.WAITING:
        return f"paybill check already {check.status}"
    if verdict.outcome == Outcome.PENDING:
        return "paybill check: still pending"
    if verdict.outcome == Outcome.SUCCEEDED and verdict.receipt == check.receipt:
        recorded = paybill_payment_record(
            provider=provider,
            paybill=_paybill(check, verdict.amount),
            received_at=check.received_at,
        )
        outcome = f"confirmed: {recorded._meta.model_name} {recorded.pk}"
        _settle(check, PaybillCheckStatus.CONFIRMED, outcome)
        return f"paybill check {outcome}"
    reason = verdict.failure_code or "another receipt"
    _settle(check, PaybillCheckStatus.REFUSED, f"not confirmed: {reason}")
    logger.warning(
        "paybill confirmation refused by the operator",
        extra={"provider": provider, "receipt": check.receipt, "code": reason},
    )
    return f"paybill check refused: {reason}"


def paybill_checks_due(limit: int = 500) -> list[int]:
    """Waiting checks whose next question is due (for the sweep)."""
    due = PaybillCheck.objects.filter(
        status=PaybillCheckStatus.WAITING, next_query_at__lte=timezone.now()
    )
    return list(due.order_by("next_query_at").values_list("pk", flat=True)[:limit])


def paybill_checks_ask_due() -> int:
    """Ask again about every waiting check whose next question is due (every minute, with
    reconciliation); one failing is logged and asked next time. Returns how many were due."""
    due = paybill_checks_due()
    for check_id in due:
        try:
            paybill_check_ask(check_id=check_id)
        except Exception:  # logged; the next run asks again
            logger.exception("paybill check failed", extra={"check": check_id})
    return len(due)
