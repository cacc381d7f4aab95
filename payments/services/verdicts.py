"""What a callback's verdict does to its intent: the doubt rule.

An event the adapter marks `trusted` (a signature or a token we issued matched) is applied
as it is. An untrusted event is applied directly only
when it cannot be wrong in a way that costs money:
- a failure for a pending intent (nothing is credited; a later success still credits);
- a clean M-Pesa STK success: the intent is pending, the callback carries a receipt and
  exactly the amount we asked for, and it came to the secret URL with the CheckoutRequestID
  only Daraja and we know (Daraja's STK query is rate-limited, carries no receipt and, in its
  sandbox, contradicts callbacks, so asking it adds little).
Everything else (another amount, no amount or receipt, the intent not pending, e.g. a success
after expiry, and any untrusted success from the other operators) is settled by asking the
operator (`status_query`); its answer is applied instead, completed by the callback's receipt
and amount when it agrees but lacks them. If the operator cannot be reached, the callback is
acknowledged and the intent is scheduled for reconciliation, which asks again.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from payments.models import IntentStatus, PaymentIntent
from payments.providers.base import (
    CallbackEvent,
    Outcome,
    PaymentProvider,
    ProviderError,
    Verdict,
)
from payments.services.intents import (
    OUTCOME_STATUS,
    intent_amount,
    payment_intent_receipt_attach,
    payment_intent_transition_locked,
)

logger = logging.getLogger(__name__)

RECHECK_AFTER = timedelta(minutes=1)
# Providers whose clean, untrusted success callback may credit without a status query.
DIRECT_SUCCESS_PROVIDERS = frozenset({"mpesa"})


def _doubtful(intent: PaymentIntent, event: CallbackEvent) -> bool:
    verdict = event.verdict
    if event.trusted:
        return False
    if intent.status != IntentStatus.PENDING:
        return True
    if verdict.outcome != Outcome.SUCCEEDED:
        return False
    if intent.provider not in DIRECT_SUCCESS_PROVIDERS:
        return True
    asked = (intent.amount_minor, intent.currency)
    paid = (verdict.amount.minor, verdict.amount.currency) if verdict.amount else None
    return paid != asked or not verdict.receipt


def _confirmed(said: Verdict, answer: Verdict) -> Verdict:
    """The operator's answer wins; when it agrees with the callback, details the answer lacks
    (M-Pesa's STK query has no receipt and no amount) come from the callback."""
    if answer.outcome != said.outcome:
        return answer
    return Verdict(
        answer.outcome,
        receipt=answer.receipt or said.receipt,
        amount=answer.amount or said.amount,
        failure_code=answer.failure_code or said.failure_code,
        failure_message=answer.failure_message or said.failure_message,
    )


def verdict_apply(
    intent: PaymentIntent, provider: PaymentProvider, event: CallbackEvent, *, kind: str
) -> str:
    verdict = event.verdict
    target = OUTCOME_STATUS[verdict.outcome]
    if target == intent.status:
        if payment_intent_receipt_attach(intent, receipt=verdict.receipt):
            return f"receipt recorded on the {intent.status} intent"
        return f"no change: already {intent.status}"
    source = f"callback:{kind}"
    if _doubtful(intent, event):
        try:
            answer = provider.status_query(
                provider_reference=intent.provider_reference,
                provider_data=intent.provider_data,
                amount=intent_amount(intent),
            )
            verdict = _confirmed(verdict, answer)
            source = f"callback:{kind}+query"
        except ProviderError as exc:
            logger.warning(
                "callback not confirmed: operator query failed",
                extra={"intent_id": str(intent.pk), "provider": intent.provider, "code": exc.code},
            )
            soon = timezone.now() + RECHECK_AFTER
            if intent.next_check_at is None or intent.next_check_at > soon:
                intent.next_check_at = soon
                intent.save(update_fields=["next_check_at"])
            return "kept for reconciliation: operator query failed"
    before = intent.status
    if verdict.outcome == Outcome.PENDING and before != IntentStatus.PENDING:
        # The operator still works on a push we gave up on: reconciliation asks again.
        intent.next_check_at = timezone.now() + RECHECK_AFTER
        intent.save(update_fields=["next_check_at"])
        return f"still in progress at the operator; recheck scheduled ({source})"
    intent = payment_intent_transition_locked(intent, verdict, source=source)
    return f"{before} -> {intent.status} ({source})"
