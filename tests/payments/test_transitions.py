"""The intent state machine: one service, a row lock, crediting once, flags for people."""

import logging

import pytest

from billing.models import JournalKind, JournalTransaction, Payment
from billing.money import Money
from billing.selectors import account_balance
from payments.models import Channel, IntentStatus, PaymentIntent
from payments.providers.base import Outcome, Verdict
from payments.services.intents import (
    payment_intent_create,
    payment_intent_transition,
    payment_reversal_record,
)
from payments.services.push import payment_intent_push
from sms.models import MessageKind, OutboundMessage
from tests.payments.support import kes

pytestmark = pytest.mark.django_db

PHONE = "+254712345678"
PAID = Verdict(Outcome.SUCCEEDED, receipt="NLJ7RT61SV", amount=kes("1200"))


@pytest.fixture
def intent(sandbox, account) -> PaymentIntent:
    intent = payment_intent_create(
        account=account,
        phone=PHONE,
        amount=kes("1200"),
        channel=Channel.USSD,
        idempotency_key="ussd:s1",
    )
    return payment_intent_push(intent_id=intent.pk)


def receipts() -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(kind=MessageKind.RECEIPT))


def test_success_credits_the_account_and_queues_one_receipt(intent, account):
    settled = payment_intent_transition(intent_id=intent.pk, verdict=PAID, source="test")

    payment = Payment.objects.get()
    assert settled.status == IntentStatus.SUCCEEDED
    assert settled.payment == payment
    assert (payment.source, payment.reference, payment.amount_minor) == (
        "sandbox",
        "NLJ7RT61SV",
        120_000,
    )
    assert account_balance(account) == kes("0")
    [sms] = receipts()
    assert sms.to == PHONE
    assert sms.body == (
        f"Payment of KES 1,200 received for account {account.number}. "
        "New balance KES 0. Ref NLJ7RT61SV"
    )


def test_the_same_success_twice_credits_once(intent):
    payment_intent_transition(intent_id=intent.pk, verdict=PAID, source="callback")
    again = payment_intent_transition(intent_id=intent.pk, verdict=PAID, source="reconcile")

    assert again.status == IntentStatus.SUCCEEDED
    assert Payment.objects.count() == 1
    assert JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count() == 1
    assert len(receipts()) == 1


def test_a_failure_stores_a_reason_the_customer_can_read(intent):
    failed = payment_intent_transition(
        intent_id=intent.pk,
        verdict=Verdict(Outcome.CANCELLED, failure_code="1032"),
        source="callback",
    )

    assert failed.status == IntentStatus.CANCELLED
    assert failed.failure_code == "1032"
    assert failed.failure_message == "The payment was cancelled on the phone."
    assert Payment.objects.count() == 0


def test_a_late_success_after_expiry_still_credits_and_is_flagged(intent, account):
    payment_intent_transition(
        intent_id=intent.pk, verdict=Verdict(Outcome.EXPIRED), source="reconcile"
    )

    late = payment_intent_transition(intent_id=intent.pk, verdict=PAID, source="callback")

    assert late.status == IntentStatus.SUCCEEDED
    assert late.flags == ["late_success"]
    assert late.failure_code == ""
    assert account_balance(account) == kes("0")


def test_another_amount_credits_what_was_paid_and_is_flagged(intent, account):
    less = Verdict(Outcome.SUCCEEDED, receipt="NLJ7RT61SV", amount=kes("1000"))

    settled = payment_intent_transition(intent_id=intent.pk, verdict=less, source="callback")

    assert settled.flags == ["amount_mismatch"]
    assert settled.paid_minor == 100_000
    assert Payment.objects.get().amount_minor == 100_000
    assert account_balance(account) == kes("200")
    assert "New balance KES 200." in receipts()[0].body


def test_more_than_owed_leaves_credit_and_says_so(intent, account):
    more = Verdict(Outcome.SUCCEEDED, receipt="NLJ7RT61SV", amount=kes("1500"))

    payment_intent_transition(intent_id=intent.pk, verdict=more, source="callback")

    assert "New balance KES 0. Credit KES 300. Ref NLJ7RT61SV" in receipts()[0].body


def test_a_failure_after_success_is_refused_and_logged(intent, caplog):
    payment_intent_transition(intent_id=intent.pk, verdict=PAID, source="callback")

    with caplog.at_level(logging.WARNING, logger="payments.services.intents"):
        after = payment_intent_transition(
            intent_id=intent.pk, verdict=Verdict(Outcome.FAILED), source="late callback"
        )

    assert after.status == IntentStatus.SUCCEEDED
    assert any("transition refused" in r.getMessage() for r in caplog.records)


def test_a_success_in_another_currency_credits_nothing_and_is_flagged(intent):
    euros = Verdict(Outcome.SUCCEEDED, receipt="X1", amount=Money.of("5", "EUR"))

    after = payment_intent_transition(intent_id=intent.pk, verdict=euros, source="callback")

    assert after.status == IntentStatus.PENDING
    assert after.flags == ["currency_mismatch"]
    assert Payment.objects.count() == 0


def test_a_success_without_receipt_is_keyed_on_the_intent(intent):
    payment_intent_transition(
        intent_id=intent.pk, verdict=Verdict(Outcome.SUCCEEDED), source="query"
    )
    payment_intent_transition(
        intent_id=intent.pk, verdict=Verdict(Outcome.SUCCEEDED), source="query"
    )

    payment = Payment.objects.get()
    assert payment.reference == f"intent:{intent.pk.hex}"
    assert payment.amount_minor == 120_000


def test_a_reversal_reverses_the_payment_and_the_intent(intent, account, django_user_model):
    from accounts.models import Role

    manager = django_user_model.objects.create_user("+254700000099", role=Role.MANAGER)
    settled = payment_intent_transition(intent_id=intent.pk, verdict=PAID, source="callback")

    payment_reversal_record(payment=settled.payment, reason="operator reversed", actor=manager)
    payment_reversal_record(payment=settled.payment, reason="again", actor=manager)

    settled.refresh_from_db()
    assert settled.status == IntentStatus.REVERSED
    assert account_balance(account) == kes("1200")
    assert JournalTransaction.objects.filter(kind=JournalKind.REVERSAL).count() == 1
