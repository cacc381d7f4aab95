"""Payment intents: create one (the push itself is services/push.py), move it through its
states, credit the money once.

Status changes happen in this module only, through `_status_move`, always under the intent's
row lock: `payment_intent_transition` applies what an operator said (a callback, a status
query, the push itself, reconciliation) and `payment_reversal_record` records a reversal.
A transition the state machine (IntentStatus.transitions) does not allow is refused and
logged; reaching a status the intent already has is a no-op.

A success credits the account through billing's `payment_record` in the same transaction, keyed
on the operator's receipt, so the same money seen through several paths posts once; the
receipt SMS is keyed on the payment, so it is sent once per payment.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record, audit_snapshot
from accounts.phones import phone_mask, phone_normalize
from billing.exceptions import CurrencyNotAccepted
from billing.ledger import service_account_lock
from billing.models import AccountStatus, Payment, ServiceAccount
from billing.money import Money
from billing.services.payments import PaymentReferenceConflict, payment_record, payment_reverse
from payments.exceptions import (
    AccountClosed,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    ProviderUnavailable,
)
from payments.models import IntentStatus, PaymentIntent
from payments.providers.base import Outcome, Verdict
from payments.routing import provider_route
from payments.services.receipts import receipt_sms_queue
from payments.services.rules import amount_check, push_spacing_enforce

logger = logging.getLogger(__name__)


# Reconciliation asks the operator this long after the push, then gives up (expires).
FIRST_CHECK_AFTER = timedelta(minutes=1)
EXPIRE_AFTER = timedelta(minutes=15)
OUTCOME_STATUS = {
    Outcome.PENDING: IntentStatus.PENDING,
    Outcome.SUCCEEDED: IntentStatus.SUCCEEDED,
    Outcome.FAILED: IntentStatus.FAILED,
    Outcome.CANCELLED: IntentStatus.CANCELLED,
    Outcome.EXPIRED: IntentStatus.EXPIRED,
}
# What a transition may change (saved together, under the row lock).
TRANSITION_FIELDS = [
    "status",
    "settled_at",
    "next_check_at",
    "failure_code",
    "failure_message",
    "payment",
    "receipt",
    "paid_minor",
    "flags",
]
DEFAULT_REASONS = {
    IntentStatus.FAILED: "The payment did not go through.",
    IntentStatus.CANCELLED: "The payment was cancelled on the phone.",
    IntentStatus.EXPIRED: "The payment request timed out before it was approved.",
}


def _log_extra(intent: PaymentIntent, **more) -> dict:
    return {
        "intent_id": str(intent.pk),
        "provider": intent.provider,
        "provider_reference": intent.provider_reference,
        **more,
    }


def intent_amount(intent: PaymentIntent) -> Money:
    return Money(intent.amount_minor, intent.currency)


def _replayed(intent: PaymentIntent, *, phone: str, amount: Money) -> PaymentIntent:
    if intent.phone != phone or Money(intent.amount_minor, intent.currency) != amount:
        raise IdempotencyKeyReused(extra={"intent": str(intent.pk)})
    return intent


@transaction.atomic
def payment_intent_create(
    *,
    account: ServiceAccount,
    phone: str,
    amount: Money,
    channel: str,
    idempotency_key: str,
    provider: str | None = None,
    network_code: str | None = None,
    initiated_by=None,
) -> PaymentIntent:
    """Ask `phone`'s operator to collect `amount` for `account`; the push runs in a worker.

    Idempotent on (account, idempotency_key): a replay with the same phone and amount returns
    the first intent (IdempotencyKeyReused if they differ). Raises AmountOutOfRange,
    CurrencyNotAccepted, AccountClosed, PushTooSoon (with Retry-After), NoProviderForPhone or
    ProviderUnavailable. The push task is enqueued when the caller's transaction commits.
    """
    key = (idempotency_key or "").strip()
    if not 0 < len(key) <= 200:
        raise IdempotencyKeyRequired()
    phone = phone_normalize(phone, region=account.operator.phone_region)
    existing = PaymentIntent.objects.filter(account=account, idempotency_key=key).first()
    if existing is not None:
        return _replayed(existing, phone=phone, amount=amount)
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed()
    if amount.currency != account.operator.currency:
        raise CurrencyNotAccepted(extra={"currency": account.operator.currency})
    provider = provider or provider_route(phone=phone, network_code=network_code)
    if provider not in settings.PAYMENT_PROVIDERS:
        raise ProviderUnavailable(extra={"provider": provider})
    amount_check(provider=provider, amount=amount)
    push_spacing_enforce(provider=provider, phone=phone)
    try:
        with transaction.atomic():
            intent = PaymentIntent.objects.create(
                account=account,
                provider=provider,
                phone=phone,
                currency=amount.currency,
                amount_minor=amount.minor,
                channel=channel,
                idempotency_key=key,
                initiated_by=initiated_by,
            )
    except IntegrityError:  # the same key, created concurrently
        existing = PaymentIntent.objects.get(account=account, idempotency_key=key)
        return _replayed(existing, phone=phone, amount=amount)
    logger.info("payment intent created", extra=_log_extra(intent, phone=phone_mask(phone)))
    if initiated_by is not None:
        audit_record(
            actor=initiated_by,
            action="payment_intent.create",
            instance=intent,
            after=audit_snapshot(intent),
        )
    from payments.tasks import payment_intent_push_task

    transaction.on_commit(lambda: payment_intent_push_task.delay(str(intent.pk)))
    return intent


def _locked(intent_id) -> PaymentIntent:
    return (
        PaymentIntent.objects.select_for_update(of=("self",))
        .select_related("account__operator")
        .get(pk=intent_id)
    )


@transaction.atomic
def payment_intent_transition(*, intent_id, verdict: Verdict, source: str) -> PaymentIntent:
    """Apply what the operator says happened (`source`: "callback:stk", "query", ...)."""
    return payment_intent_transition_locked(_locked(intent_id), verdict, source=source)


def _status_move(intent: PaymentIntent, target: str, *, source: str) -> bool:
    """The guard: True when `intent` (locked) may move to `target`; logs a refusal."""
    if target == intent.status:
        return False
    if target not in IntentStatus.transitions()[intent.status]:
        logger.warning(
            "payment intent transition refused",
            extra=_log_extra(intent, status=intent.status, target=target, source=source),
        )
        return False
    return True


def payment_intent_transition_locked(
    intent: PaymentIntent, verdict: Verdict, *, source: str
) -> PaymentIntent:
    """Like payment_intent_transition, for an intent already locked in this transaction."""
    target = OUTCOME_STATUS[verdict.outcome]
    if not _status_move(intent, target, source=source):
        return intent
    now = timezone.now()
    previous = intent.status
    if target == IntentStatus.SUCCEEDED:
        if not _credit(intent, verdict, previous=previous, now=now):
            return intent
    elif target != IntentStatus.PENDING:
        intent.failure_code = (verdict.failure_code or target)[:32]
        intent.failure_message = (verdict.failure_message or DEFAULT_REASONS[target])[:200]
    if target != IntentStatus.PENDING:
        intent.settled_at = now
        intent.next_check_at = None
    intent.status = target
    intent.save(update_fields=TRANSITION_FIELDS)
    logger.info(
        "payment intent moved",
        extra=_log_extra(intent, status=target, previous=previous, source=source),
    )
    return intent


def _credit(intent: PaymentIntent, verdict: Verdict, *, previous: str, now) -> bool:
    """Record the money on the account; False (nothing changed) if it cannot be credited."""
    expected = Money(intent.amount_minor, intent.currency)
    paid = verdict.amount or expected
    flags = list(intent.flags)
    if paid.currency != intent.currency or paid.minor <= 0:
        logger.error("success in an unexpected currency", extra=_log_extra(intent))
        if "currency_mismatch" not in flags:
            intent.flags = [*flags, "currency_mismatch"]
            intent.save(update_fields=["flags"])
        return False
    if paid != expected:
        flags.append("amount_mismatch")
    if previous in (IntentStatus.EXPIRED, IntentStatus.FAILED, IntentStatus.CANCELLED):
        flags.append("late_success")
    # Without an operator receipt the intent itself keys the payment (still posted once),
    # unless the same money already came in through the paybill.
    reference = verdict.receipt or f"intent:{intent.pk.hex}"
    payment = None if verdict.receipt else _paybill_twin(intent, paid)
    try:
        payment = payment or payment_record(
            account=intent.account,
            amount=paid,
            source=intent.provider,
            reference=reference,
            received_at=now,
            clearing=f"clearing:{intent.provider}",
        )
    except PaymentReferenceConflict:
        # The receipt was recorded already, for another account or amount (a paybill typo):
        # the money is on the books once; a person reconciles the two.
        payment = Payment.objects.get(source=intent.provider, reference=reference)
        flags.append("receipt_conflict")
    receipt_sms_queue(payment=payment, to=intent.phone)
    intent.payment = payment
    intent.receipt = (verdict.receipt or _receipt_of(payment))[:64]
    intent.paid_minor = paid.minor
    intent.flags = list(dict.fromkeys(flags))
    intent.failure_code = intent.failure_message = ""
    return True


def payment_intent_receipt_attach(intent: PaymentIntent, *, receipt: str) -> bool:
    """Learn the operator's receipt for an intent credited without one (an M-Pesa STK query
    confirms a payment but carries no receipt), so later paths (a paybill confirmation, a
    statement) recognise the money. The intent must be locked. True when it was recorded."""
    if intent.status != IntentStatus.SUCCEEDED or intent.receipt or not receipt:
        return False
    intent.receipt = receipt[:64]
    intent.save(update_fields=["receipt"])
    logger.info("receipt recorded on a settled intent", extra=_log_extra(intent))
    return True


def _paybill_twin(intent: PaymentIntent, paid: Money) -> Payment | None:
    """A receipt-less success (an M-Pesa STK query) and a paybill confirmation of the same push
    are one payment: under the account's lock (which the paybill path takes too), a payment
    from this provider for this account and amount, recorded since the push and claimed by no
    intent, is taken to be this money (services/paybill.py `_intent_adopt` is the mirror)."""
    service_account_lock(account_id=intent.account_id)
    claimed = PaymentIntent.objects.exclude(payment=None).values("payment")
    return (
        Payment.objects.filter(
            account_id=intent.account_id,
            source=intent.provider,
            currency=paid.currency,
            amount_minor=paid.minor,
            received_at__gte=intent.pushed_at or intent.created_at,
            reversed_at__isnull=True,
        )
        .exclude(pk__in=claimed)
        .exclude(reference__startswith="intent:")
        .order_by("received_at", "pk")
        .first()
    )


def _receipt_of(payment: Payment) -> str:
    return "" if payment.reference.startswith("intent:") else payment.reference


@transaction.atomic
def payment_reversal_record(*, payment: Payment, reason: str, actor) -> Payment:
    """Reverse a recorded payment (billing's payment_reverse: ledger, allocations, audit) and
    move the intents it settled from succeeded to reversed. Reversing twice is a no-op.
    Locks the intents before the account, in the order every other path takes them."""
    settled = PaymentIntent.objects.filter(payment=payment, status=IntentStatus.SUCCEEDED)
    intents = [_locked(pk) for pk in settled.order_by("pk").values_list("pk", flat=True)]
    payment = payment_reverse(payment=payment, reason=reason, actor=actor)
    for intent in intents:
        if _status_move(intent, IntentStatus.REVERSED, source="reversal"):
            intent.status = IntentStatus.REVERSED
            intent.save(update_fields=["status"])
            logger.info("payment intent reversed", extra=_log_extra(intent))
    return payment
