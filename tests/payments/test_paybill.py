"""M-Pesa paybill (C2B): validation, confirmation, suspense with candidates, one credit per
receipt whichever path brings the money first."""

import json

import pytest
from django.utils import timezone

from billing.ledger import ledger_account_balance_minor
from billing.models import JournalKind, JournalTransaction, LedgerAccount, Payment
from billing.selectors import account_balance
from payments.models import (
    CallbackDelivery,
    CallbackStatus,
    Channel,
    IntentStatus,
    PaymentIntent,
    SuspensePayment,
    SuspenseStatus,
)
from payments.providers.base import Outcome, Verdict
from payments.services.intents import payment_intent_transition
from payments.services.suspense import near_miss_numbers, phone_hash, suspense_allocate
from sms.models import MessageKind, OutboundMessage
from tests.payments.support import MPESA_TOKEN, fixture_body, kes

pytestmark = pytest.mark.django_db


def c2b(client, kind: str, **fields):
    payload = json.loads(fixture_body("mpesa_c2b_confirmation.json"))
    payload.update(fields)
    return client.post(
        f"/payments/mpesa/c2b/{kind}/{MPESA_TOKEN}/",
        data=json.dumps(payload),
        content_type="application/json",
    )


def mistype(number: str) -> str:
    """The number with one digit changed: the check digit catches it."""
    return number[:3] + str((int(number[3]) + 1) % 10) + number[4:]


def credits() -> int:
    return JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count()


def test_validation_accepts_a_known_account(mpesa, account, client):
    response = c2b(client, "validation", BillRefNumber=f" {account.number} ")

    assert response.status_code == 200
    assert response.json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    assert CallbackDelivery.objects.get().status == CallbackStatus.PROCESSED
    assert credits() == 0  # validation never moves money


@pytest.mark.parametrize("typed", ["Sample Transaction", "100000000", ""])
def test_validation_refuses_an_unknown_account_with_c2b00012(mpesa, account, client, typed):
    response = c2b(client, "validation", BillRefNumber=typed)

    assert response.json() == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}


def test_validation_refuses_a_mistyped_number(mpesa, account, client):
    response = c2b(client, "validation", BillRefNumber=mistype(account.number))

    assert response.json()["ResultCode"] == "C2B00012"


def test_a_confirmation_credits_the_account_once_with_a_receipt(mpesa, account, client):
    answers = [
        c2b(client, "confirmation", BillRefNumber=account.number, TransAmount="1200.00")
        for _ in range(2)
    ]

    assert [a.json() for a in answers] == [{"ResultCode": 0, "ResultDesc": "Success"}] * 2
    payment = Payment.objects.get()
    assert (payment.source, payment.reference) == ("mpesa", "RKL51ZDR4F")
    assert account_balance(account) == kes("0")
    sms = OutboundMessage.objects.get(kind=MessageKind.RECEIPT)
    assert sms.to == account.owner.phone
    assert sms.body.endswith("New balance KES 0. Ref RKL51ZDR4F")


def test_the_documented_sample_goes_to_suspense_against_clearing(mpesa, account, client):
    response = c2b(client, "confirmation")

    assert response.status_code == 200
    suspense = SuspensePayment.objects.get()
    assert (suspense.receipt, suspense.amount_minor, suspense.reason) == (
        "RKL51ZDR4F",
        500,
        "unknown_account",
    )
    assert suspense.bill_reference == "Sample Transaction"
    suspense_ledger = LedgerAccount.objects.get(code="suspense")
    clearing = LedgerAccount.objects.get(code="clearing:mpesa")
    assert ledger_account_balance_minor(suspense_ledger) == -500
    assert ledger_account_balance_minor(clearing) == 500
    assert credits() == 0


def test_a_bad_check_digit_goes_to_suspense_with_the_near_miss_as_candidate(mpesa, account, client):
    typed = mistype(account.number)

    c2b(client, "confirmation", BillRefNumber=typed)

    suspense = SuspensePayment.objects.get()
    assert suspense.reason == "bad_check_digit"
    assert {"account": account.number, "why": "near-miss account number"} in suspense.candidates


def test_the_payer_hash_names_the_owner_as_candidate(mpesa, account, client):
    c2b(client, "confirmation", BillRefNumber="water", MSISDN=phone_hash(account.owner.phone))

    suspense = SuspensePayment.objects.get()
    assert suspense.candidates == [{"account": account.number, "why": "payer's phone"}]


def test_near_misses_are_one_edit_away_and_pass_the_check_digit(account):
    number = account.number
    swapped = number[:2] + number[3] + number[2] + number[4:]

    for typed in (mistype(number), swapped, number[:-1], number + "5"):
        assert number in near_miss_numbers(typed) or typed == number


def test_allocating_suspense_credits_the_account_from_suspense(mpesa, account, client):
    c2b(client, "confirmation", BillRefNumber=mistype(account.number), TransAmount="1200.00")
    suspense = SuspensePayment.objects.get()

    suspense_allocate(suspense_id=suspense.pk, account=account, actor=None)

    suspense.refresh_from_db()
    assert suspense.status == SuspenseStatus.ALLOCATED
    assert suspense.payment.reference == "RKL51ZDR4F"
    assert account_balance(account) == kes("0")
    assert ledger_account_balance_minor(LedgerAccount.objects.get(code="suspense")) == 0


def _stk_intent(account, *, amount: str = "1", checkout: str = "ws_CO_191220191020363925"):
    now = timezone.now()
    return PaymentIntent.objects.create(
        account=account,
        provider="mpesa",
        phone="+254708374149",
        currency="KES",
        amount_minor=kes(amount).minor,
        status=IntentStatus.PENDING,
        channel=Channel.USSD,
        idempotency_key=f"ussd:{checkout}",
        provider_reference=checkout,
        callback_key=checkout,
        pushed_at=now,
        next_check_at=now,
    )


def test_an_stk_callback_and_a_paybill_confirmation_of_one_receipt_credit_once(
    mpesa, account, client
):
    intent = _stk_intent(account)

    stk = client.post(
        f"/payments/mpesa/stk/{MPESA_TOKEN}/",
        data=fixture_body("mpesa_stk_callback_success.json"),
        content_type="application/json",
    )
    c2b(
        client,
        "confirmation",
        TransID="NLJ7RT61SV",
        BillRefNumber=account.number,
        TransAmount="1.00",
    )

    intent.refresh_from_db()
    assert stk.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert intent.status == IntentStatus.SUCCEEDED
    assert credits() == 1
    assert OutboundMessage.objects.filter(kind=MessageKind.RECEIPT).count() == 1


def test_a_confirmation_after_a_receipt_less_success_adopts_it(mpesa, account, client):
    intent = _stk_intent(account, amount="1200")
    payment_intent_transition(intent_id=intent.pk, verdict=Verdict(Outcome.SUCCEEDED), source="q")

    c2b(
        client,
        "confirmation",
        TransID="QAB12CD34E",
        BillRefNumber=account.number,
        TransAmount="1200.00",
    )
    c2b(
        client,
        "confirmation",
        TransID="QAB12CD99Z",
        BillRefNumber=account.number,
        TransAmount="1200.00",
    )

    intent.refresh_from_db()
    assert intent.receipt == "QAB12CD34E"
    assert credits() == 2  # the push, and the second (real, other) paybill payment
    assert Payment.objects.filter(reference="QAB12CD99Z").exists()


def test_a_receipt_less_success_after_the_confirmation_takes_it_as_its_own(mpesa, account, client):
    intent = _stk_intent(account, amount="1200")
    c2b(
        client,
        "confirmation",
        TransID="QAB12CD34E",
        BillRefNumber=account.number,
        TransAmount="1200.00",
    )

    payment_intent_transition(intent_id=intent.pk, verdict=Verdict(Outcome.SUCCEEDED), source="q")

    intent.refresh_from_db()
    assert intent.receipt == "QAB12CD34E"
    assert intent.payment.reference == "QAB12CD34E"
    assert credits() == 1
    assert OutboundMessage.objects.filter(kind=MessageKind.RECEIPT).count() == 1
