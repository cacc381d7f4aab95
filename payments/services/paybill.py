"""Paybill money: the customer sent it on their own, typing an account number (M-Pesa C2B).

A paybill payment whose reference is a valid account number of exactly one account is
credited to it; anything else is parked in suspense (services/suspense.py).

Money is recognised by its receipt whichever path brings it first (STK callback, paybill
confirmation, status query, statement import): `paybill_money_known` finds a payment keyed on the
receipt, an intent that learnt it, or a suspense entry. A push credited without a receipt (an
M-Pesa STK query confirms a payment but carries none) and the paybill confirmation of the same
money are matched by account and amount (`_intent_adopt` here, `intents._paybill_twin` for
the other order), both under the same locks: the intents, then the account's row.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.account_numbers import account_number_clean
from billing.ledger import service_account_lock
from billing.models import Payment, ServiceAccount
from billing.money import Money
from billing.services.payments import PaymentReferenceConflict, payment_record
from payments.models import IntentStatus, PaymentIntent, SuspensePayment
from payments.providers.base import PaybillPayment
from payments.services.receipts import receipt_sms_queue
from payments.services.suspense import suspense_open

logger = logging.getLogger(__name__)

# How far back a receipt-less push payment may be matched to a paybill confirmation.
ADOPT_WITHIN = timedelta(days=1)


def _accounts_numbered(number: str, *, provider: str) -> list[ServiceAccount]:
    accounts = list(
        ServiceAccount.objects.select_related("operator", "owner").filter(number=number)[:5]
    )
    if len(accounts) > 1:  # the number exists at several operators: the paybill decides
        shortcode = settings.PAYMENT_PROVIDERS.get(provider, {}).get("options", {}).get("shortcode")
        accounts = [a for a in accounts if shortcode and a.operator.paybill == str(shortcode)]
    return accounts


def paybill_account_find(bill_reference: str, *, provider: str) -> ServiceAccount | None:
    """The one account a typed reference names, or None (bad check digit, unknown, ambiguous)."""
    number = account_number_clean((bill_reference or "").strip())
    if number is None:
        return None
    accounts = _accounts_numbered(number, provider=provider)
    return accounts[0] if len(accounts) == 1 else None


def paybill_money_known(*, provider: str, receipt: str) -> Payment | SuspensePayment | None:
    """What we already recorded for this receipt: a payment (keyed on it, or on an intent that
    learnt it later), or a suspense entry."""
    known = Payment.objects.filter(source=provider, reference=receipt).first()
    if known is None:
        intent = PaymentIntent.objects.filter(provider=provider, receipt=receipt).first()
        known = intent.payment if intent is not None else None
    return known or SuspensePayment.objects.filter(provider=provider, receipt=receipt).first()


def _intents_lock(*, provider: str, account: ServiceAccount, amount: Money) -> list[PaymentIntent]:
    """Lock the recent push intents this paybill money could belong to (pending ones, which a
    callback or reconciliation may be crediting right now, and ones credited without a
    receipt), before the account: the push path locks intent, then account, and so must we."""
    return list(
        PaymentIntent.objects.select_for_update(of=("self",))
        .filter(
            provider=provider,
            account=account,
            currency=amount.currency,
            created_at__gte=timezone.now() - ADOPT_WITHIN,
        )
        .filter(
            Q(status=IntentStatus.PENDING)
            | Q(status=IntentStatus.SUCCEEDED, receipt="", paid_minor=amount.minor)
        )
        .order_by("pk")
    )


def _intent_adopt(intents: list[PaymentIntent], *, amount: Money, receipt: str) -> Payment | None:
    """A push credited without a receipt (its callback was lost; the operator's status query
    confirmed it) for this account and amount is taken to be this money: the intent learns the
    receipt and nothing is credited twice. Should that guess be wrong, the statement import
    shows the push's own receipt as missing and records it. (intents._paybill_twin is the
    mirror, for a receipt-less success that comes after the paybill money.)"""
    for intent in intents:
        if intent.status == IntentStatus.SUCCEEDED and intent.paid_minor == amount.minor:
            intent.receipt = receipt[:64]
            intent.save(update_fields=["receipt"])
            return intent.payment
    return None


@transaction.atomic
def paybill_payment_record(
    *, provider: str, paybill: PaybillPayment, received_at: datetime | None = None
) -> Payment | SuspensePayment:
    """Credit a paybill payment to the account it names, or park it in suspense. Idempotent
    on the receipt: money already recorded (by any path) or already in suspense changes
    nothing and is returned as it is."""
    receipt, amount = paybill.receipt, paybill.amount
    known = paybill_money_known(provider=provider, receipt=receipt)
    if known is not None:
        return known
    account = paybill_account_find(paybill.bill_reference, provider=provider)
    if account is not None:
        # Serialize with the push path (intents._credit): its intents, then the account's row;
        # then look again.
        intents = _intents_lock(provider=provider, account=account, amount=amount)
        service_account_lock(account_id=account.pk)
        known = paybill_money_known(provider=provider, receipt=receipt)
        if known is not None:
            return known
        adopted = _intent_adopt(intents, amount=amount, receipt=receipt)
        if adopted is not None:
            return adopted
        try:
            payment = payment_record(
                account=account,
                amount=amount,
                source=provider,
                reference=receipt,
                received_at=received_at,
                clearing=f"clearing:{provider}",
            )
        except PaymentReferenceConflict:  # recorded meanwhile for another account or amount
            return Payment.objects.get(source=provider, reference=receipt)
        receipt_sms_queue(payment=payment, to=account.owner.phone)
        return payment
    return suspense_open(provider=provider, paybill=paybill, received_at=received_at)
