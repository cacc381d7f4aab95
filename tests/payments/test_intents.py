"""Creating a payment intent and pushing it: idempotency, operator limits, the push itself."""

import contextlib
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.exceptions import InvalidPhoneNumber
from billing.exceptions import CurrencyNotAccepted
from billing.money import Money
from payments.exceptions import (
    AmountOutOfRange,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    ProviderUnavailable,
    PushTooSoon,
)
from payments.models import Channel, IntentStatus, PaymentIntent
from payments.providers.base import ProviderError, PushStarted
from payments.services.intents import payment_intent_create
from payments.services.push import payment_intent_push
from payments.services.rules import amount_check
from tests.payments.support import SANDBOX_TOKEN, kes

pytestmark = pytest.mark.django_db

PHONE = "+254712345678"


def create(account, *, key="key-1", phone=PHONE, amount="1200", **kwargs) -> PaymentIntent:
    return payment_intent_create(
        account=account,
        phone=phone,
        amount=kes(amount),
        channel=Channel.API,
        idempotency_key=key,
        **kwargs,
    )


def test_replaying_the_idempotency_key_returns_the_first_intent(sandbox, account):
    first = create(account, key="ussd:session-1")
    again = create(account, key="ussd:session-1", phone="0712 345 678")

    assert again.pk == first.pk
    assert PaymentIntent.objects.count() == 1


def test_the_same_key_for_another_amount_is_refused(sandbox, account):
    create(account, key="k")

    with pytest.raises(IdempotencyKeyReused):
        create(account, key="k", amount="1300")


def test_a_key_is_required(sandbox, account):
    with pytest.raises(IdempotencyKeyRequired):
        create(account, key="  ")


def test_the_push_is_enqueued_only_when_the_transaction_commits(
    sandbox, account, django_capture_on_commit_callbacks
):
    with mock.patch("payments.tasks.payment_intent_push_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            intent = create(account)
        assert delay.call_count == 0  # a USSD hop never waits for the operator
        for callback in callbacks:
            callback()

    delay.assert_called_once_with(str(intent.pk))
    assert intent.status == IntentStatus.CREATED


def test_an_amount_in_another_currency_is_refused(sandbox, account):
    with pytest.raises(CurrencyNotAccepted):
        payment_intent_create(
            account=account,
            phone=PHONE,
            amount=Money.of("100", "UGX"),
            channel=Channel.API,
            idempotency_key="k",
        )


def test_a_bad_phone_is_refused(sandbox, account):
    with pytest.raises(InvalidPhoneNumber):
        create(account, phone="12")


@pytest.mark.parametrize("amount", ["0.50", "250001", "100.50"])
def test_mpesa_refuses_amounts_outside_whole_shillings_1_to_250000(mpesa, account, amount):
    with pytest.raises(AmountOutOfRange):
        create(account, amount=amount)


@hypothesis_settings(max_examples=200)
@given(minor=st.integers(min_value=1, max_value=10**9))
def test_mpesa_limits_accept_exactly_whole_shillings_from_1_to_250000(minor):
    amount = Money(minor, "KES")
    accepted = 100 <= minor <= 25_000_000 and minor % 100 == 0
    try:
        amount_check(provider="mpesa", amount=amount)
    except AmountOutOfRange:
        assert not accepted
    else:
        assert accepted


def test_a_provider_that_is_not_configured_is_refused(sandbox, account):
    with pytest.raises(ProviderUnavailable):
        create(account, provider="mtn")


def test_a_second_mpesa_push_to_the_same_phone_within_a_minute_is_refused(mpesa, account):
    with time_machine.travel("2026-03-02 10:00:00 +0300", tick=False):
        create(account, key="a")
    with (
        time_machine.travel("2026-03-02 10:00:45 +0300", tick=False),
        pytest.raises(PushTooSoon) as refused,
    ):
        create(account, key="b")
    with time_machine.travel("2026-03-02 10:01:01 +0300", tick=False):
        create(account, key="c")

    assert refused.value.code == "push_too_soon"
    assert refused.value.retry_after == 15


def test_a_push_the_operator_refused_does_not_block_the_next(mpesa, account):
    first = create(account, key="a")
    PaymentIntent.objects.filter(pk=first.pk).update(status=IntentStatus.FAILED)

    second = create(account, key="b")

    assert second.pk != first.pk


def test_the_push_stores_what_the_operator_returned(sandbox, account):
    intent = create(account)
    with time_machine.travel("2026-03-02 10:00:00 +0300", tick=False):
        payment_intent_push(intent_id=intent.pk)

    intent.refresh_from_db()
    push = sandbox.status(intent.provider_reference)
    assert intent.status == IntentStatus.PENDING
    assert intent.callback_key == intent.provider_reference
    assert intent.pushed_at == timezone.now().replace(2026, 3, 2, 7, 0, 0, 0)
    assert intent.next_check_at == intent.pushed_at + timedelta(minutes=1)
    assert intent.expires_at == intent.pushed_at + timedelta(minutes=15)
    assert push.amount == kes("1200")
    assert push.callback_url == f"http://testserver/payments/sandbox/callback/{SANDBOX_TOKEN}/"


def test_pushing_twice_sends_one_prompt(sandbox, account):
    intent = create(account)

    payment_intent_push(intent_id=intent.pk)
    payment_intent_push(intent_id=intent.pk)

    assert len(sandbox.pushes) == 1


def _push_raising(account, error: ProviderError) -> PaymentIntent:
    intent = create(account)
    with (
        mock.patch("payments.providers.sandbox.SandboxProvider.push_start", side_effect=error),
        contextlib.suppress(ProviderError),
    ):
        payment_intent_push(intent_id=intent.pk)
    intent.refresh_from_db()
    return intent


def test_a_refused_push_fails_the_intent_with_a_readable_reason(sandbox, account):
    intent = _push_raising(account, ProviderError("400.002.02 Bad Request", code="400.002.02"))

    assert intent.status == IntentStatus.FAILED
    assert intent.failure_code == "400.002.02"
    assert "refused the payment request" in intent.failure_message
    assert "400.002.02" not in intent.failure_message


def test_an_operator_that_is_busy_leaves_the_intent_for_a_retry(sandbox, account):
    intent = _push_raising(account, ProviderError("busy", code="500.003.02", transient=True))

    assert intent.status == IntentStatus.CREATED
    assert intent.provider_reference == ""


def test_a_push_that_timed_out_is_not_sent_again(sandbox, account):
    intent = _push_raising(account, ProviderError("timed out", code="timeout", transient=True))

    assert intent.status == IntentStatus.FAILED
    assert intent.failure_code == "push_unconfirmed"


def test_the_push_task_retries_then_gives_up(sandbox, account, settings):
    from payments.tasks import payment_intent_push_task

    intent = create(account)
    busy = ProviderError("busy", code="500.003.02", transient=True)
    with mock.patch(
        "payments.providers.sandbox.SandboxProvider.push_start", side_effect=busy
    ) as push:
        payment_intent_push_task.apply(args=(str(intent.pk),))

    intent.refresh_from_db()
    assert push.call_count == 5  # the first try and four retries
    assert intent.status == IntentStatus.FAILED
    assert intent.failure_code == "operator_unreachable"


def test_a_started_push_returns_what_the_provider_said(sandbox, account):
    started = PushStarted(provider_reference="R1", callback_key="K1", provider_data={"a": "b"})
    intent = create(account)
    with mock.patch("payments.providers.sandbox.SandboxProvider.push_start", return_value=started):
        payment_intent_push(intent_id=intent.pk)

    intent.refresh_from_db()
    assert (intent.provider_reference, intent.callback_key) == ("R1", "K1")
    assert intent.provider_data == {"a": "b"}
