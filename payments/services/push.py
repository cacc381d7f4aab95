"""The push: ask the operator to prompt the customer for their PIN (run by a Celery task).

The row lock is held across the operator call so a re-delivered task cannot push twice. An
operator that is busy or unreachable (the push surely did not go out) is retried by the task
with backoff; a timeout or a 5xx may have reached the phone, so it is never sent again: the
intent fails as push_unconfirmed (if the customer pays anyway, the money arrives unmatched
and is recorded through the paybill confirmation or the statement import).
"""

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing.money import Money
from payments.models import IntentStatus, PaymentIntent
from payments.providers import ProviderNotConfigured, provider_get
from payments.providers.base import Outcome, ProviderError, PushRequest, Verdict
from payments.services.intents import (
    EXPIRE_AFTER,
    FIRST_CHECK_AFTER,
    _locked,
    _log_extra,
    payment_intent_transition_locked,
)

logger = logging.getLogger(__name__)

# The public URL each provider's push callback comes back to (payments/urls.py).
PUSH_CALLBACK_URL_NAMES = {
    "mpesa": "payments:mpesa-stk",
    "orange": "payments:orange-notify",
    "airtel": "payments:airtel-callback",
    "mtn": "payments:mtn-callback",
    "sandbox": "payments:sandbox-callback",
}
PUSH_UNCONFIRMED = Verdict(
    Outcome.FAILED,
    failure_code="push_unconfirmed",
    failure_message="The payment request may not have reached your phone. If you paid, the "
    "payment will be credited.",
)


def public_url(provider: str, url_name: str) -> str:
    """The absolute URL of one of our callback endpoints, with the provider's secret token."""
    token = settings.PAYMENT_PROVIDERS[provider]["options"]["callback_token"]
    path = reverse(url_name, kwargs={"token": token})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def callback_url(provider: str) -> str:
    """The absolute URL the operator calls back for a push."""
    return public_url(provider, PUSH_CALLBACK_URL_NAMES[provider])


def _push_unconfirmed(exc: ProviderError) -> bool:
    """A timeout or a 5xx: the operator may have taken the push. A refused connection or an
    operator's "busy, try later" code means it did not, and may be retried."""
    return exc.code == "timeout" or exc.code.startswith("http_5")


@transaction.atomic
def payment_intent_push(*, intent_id) -> PaymentIntent:
    """Send the push (the PIN prompt) for a created intent; a no-op for any other status.

    The row lock is held across the operator call so a re-delivered task cannot push twice.
    A permanent ProviderError fails the intent with a reason; a transient one is re-raised
    (nothing changed) for the task to retry, unless the push may have gone out (a timeout or
    a 5xx), which fails the intent as push_unconfirmed instead of risking a second prompt.
    """
    intent = _locked(intent_id)
    if intent.status != IntentStatus.CREATED:
        return intent
    request = PushRequest(
        reference=intent.pk.hex,
        phone=intent.phone,
        amount=Money(intent.amount_minor, intent.currency),
        account_number=intent.account.number,
        description=intent.account.operator.name,
        callback_url=callback_url(intent.provider),
    )
    try:
        started = provider_get(intent.provider).push_start(request)
    except ProviderNotConfigured:
        verdict = Verdict(Outcome.FAILED, failure_code="provider_unavailable")
        return payment_intent_transition_locked(intent, verdict, source="push")
    except ProviderError as exc:
        if _push_unconfirmed(exc):
            # The operator may have sent the prompt: pushing again could charge twice. If the
            # customer pays, the money arrives unmatched (paybill confirmation, statement).
            logger.warning("push outcome unknown", extra=_log_extra(intent, code=exc.code))
            return payment_intent_transition_locked(intent, PUSH_UNCONFIRMED, source="push")
        if exc.transient:
            logger.warning("push failed, will retry", extra=_log_extra(intent, code=exc.code))
            raise
        logger.warning("push refused by the operator", extra=_log_extra(intent, code=exc.code))
        verdict = Verdict(
            Outcome.FAILED,
            failure_code=exc.code or "push_refused",
            failure_message="The operator refused the payment request. Please try again later.",
        )
        return payment_intent_transition_locked(intent, verdict, source="push")
    now = timezone.now()
    intent.provider_reference = started.provider_reference[:100]
    intent.callback_key = started.callback_key[:100]
    intent.provider_data = started.provider_data
    intent.pushed_at = now
    intent.expires_at = now + EXPIRE_AFTER
    intent.next_check_at = now + FIRST_CHECK_AFTER
    intent.save(
        update_fields=[
            "provider_reference",
            "callback_key",
            "provider_data",
            "pushed_at",
            "expires_at",
            "next_check_at",
        ]
    )
    logger.info("push sent", extra=_log_extra(intent))
    return payment_intent_transition_locked(intent, Verdict(Outcome.PENDING), source="push")


@transaction.atomic
def payment_intent_abandon(*, intent_id, reason: str) -> PaymentIntent:
    """The push could not be sent after all retries: fail the intent (a late success still
    credits)."""
    verdict = Verdict(
        Outcome.FAILED,
        failure_code="operator_unreachable",
        failure_message="We could not reach the mobile-money operator. Please try again.",
    )
    intent = _locked(intent_id)
    logger.warning("push abandoned", extra=_log_extra(intent, reason=reason[:200]))
    return payment_intent_transition_locked(intent, verdict, source="push")
