"""The M-Pesa adapter against the fake Daraja on loopback: real HTTP, real requests, nothing
of ours mocked. The fake checks every field of what we send."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache

from billing.money import Money
from payments.providers import _build, provider_get
from payments.providers.base import Outcome, ProviderError, PushRequest
from payments.simulators.base import Reply
from payments.simulators.daraja import DarajaSimulator
from tests.payments.mpesa_support import (
    SECRET,
    VECTOR,
    Receiver,
    provider_for,
    push,
    received_events,
)


@pytest.fixture(autouse=True)
def _no_backoff(settings):
    settings.PAYMENTS_HTTP_BACKOFF = 0
    settings.PAYMENTS_HTTP_TIMEOUT = 5.0


@pytest.fixture
def daraja():
    with DarajaSimulator(callback_delay=None) as sim:
        yield sim


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def mpesa(daraja):
    return provider_for(daraja)


def stk_requests(sim):
    return [r for r in sim.requests if r.path == "/mpesa/stkpush/v1/processrequest"]


def test_push_passes_every_check_of_daraja_at_the_published_password_vector(daraja, mpesa):
    kenyan_09_24_08 = datetime(2021, 6, 28, 6, 24, 8, tzinfo=UTC)
    with time_machine.travel(kenyan_09_24_08, tick=False):
        started = push(mpesa)

    sent = daraja.pushes[started.provider_reference].request
    assert sent["Timestamp"] == VECTOR["Timestamp"] == "20210628092408"
    assert sent["Password"] == VECTOR["Password"]
    assert sent["BusinessShortCode"] == sent["PartyB"] == "174379"
    assert sent["PartyA"] == sent["PhoneNumber"] == "254708374149"
    assert sent["Amount"] == 1200
    assert sent["AccountReference"] == "100000011"
    assert sent["TransactionDesc"] == "Water bill fo"
    assert sent["TransactionType"] == "CustomerPayBillOnline"
    assert started.callback_key == started.provider_reference
    assert started.provider_data == {
        "merchant_request_id": daraja.pushes[started.provider_reference].merchant_request_id
    }
    assert started.customer_message == "Success. Request accepted for processing"


def test_one_token_serves_several_pushes_and_every_instance_sharing_the_cache(daraja, mpesa):
    push(mpesa, phone="+254708374141")
    push(mpesa, phone="+254708374142")
    push(provider_for(daraja), phone="+254708374143")  # another process, same cache

    assert daraja.oauth_calls == 1
    assert len(daraja.pushes) == 3


@pytest.fixture
def local_cache(settings):
    """A cache whose clock time_machine moves (Redis expires keys on its own clock)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


def test_token_is_renewed_a_minute_before_it_expires(local_cache, daraja, mpesa):
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        push(mpesa, phone="+254708374141")
        clock.move_to(start + timedelta(seconds=3599 - 61))
        push(mpesa, phone="+254708374142")
        calls_before = daraja.oauth_calls
        clock.move_to(start + timedelta(seconds=3599 - 59))
        push(mpesa, phone="+254708374143")

    assert (calls_before, daraja.oauth_calls) == (1, 2)


class NumberExpiry(DarajaSimulator):
    """Daraja as its documentation prints it: expires_in as a number."""

    def oauth(self, request):
        reply = super().oauth(request)
        if reply.status == 200:
            reply.body["expires_in"] = 120
        return reply


def test_a_numeric_expires_in_is_understood_too(local_cache):
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    with NumberExpiry(callback_delay=None) as sim, time_machine.travel(start, tick=False) as clock:
        mpesa = provider_for(sim)
        mpesa.access_token()
        clock.move_to(start + timedelta(seconds=59))
        mpesa.access_token()
        clock.move_to(start + timedelta(seconds=61))
        mpesa.access_token()

        assert sim.oauth_calls == 2


@pytest.mark.parametrize(
    ("amount", "phone", "code"),
    [
        (Money.of("1200.50", "KES"), "+254708374149", "amount_not_whole"),
        (Money.of("0", "KES"), "+254708374149", "amount_not_whole"),
        (Money.of("1200", "UGX"), "+254708374149", "currency"),
        (Money.of("1200", "KES"), "+256772123456", "invalid_phone"),
    ],
)
def test_what_mpesa_cannot_take_is_refused_before_calling_it(daraja, mpesa, amount, phone, code):
    request = PushRequest("a" * 32, phone, amount, "100000011", "Bill", "http://127.0.0.1:9/cb")

    with pytest.raises(ProviderError) as caught:
        mpesa.push_start(request)

    assert caught.value.code == code
    assert caught.value.transient is False
    assert daraja.requests == []


def test_an_account_reference_longer_than_twelve_is_refused(daraja, mpesa):
    request = PushRequest(
        "a" * 32, "+254708374149", Money.of("5", "KES"), "1234567890123", "", "http://x/cb"
    )

    with pytest.raises(ProviderError) as caught:
        mpesa.push_start(request)

    assert caught.value.code == "account_ref"


def test_a_wrong_passkey_is_a_permanent_refusal(daraja):
    with pytest.raises(ProviderError) as caught:
        push(provider_for(daraja, passkey="not-the-passkey"))

    assert (caught.value.code, caught.value.transient) == ("500.001.1001", False)


def test_bad_consumer_credentials_are_a_permanent_refusal(daraja):
    with pytest.raises(ProviderError) as caught:
        push(provider_for(daraja, consumer_secret="wrong"))

    assert (caught.value.code, caught.value.transient) == ("400.008.01", False)
    assert stk_requests(daraja) == []


def test_a_push_to_a_phone_already_prompted_is_transient(daraja, mpesa):
    push(mpesa)

    with pytest.raises(ProviderError) as caught:
        push(mpesa)

    assert (caught.value.code, caught.value.transient) == ("500.001.1001", True)


class Busy(DarajaSimulator):
    reply = Reply(
        500, {"requestId": "1", "errorCode": "500.003.02", "errorMessage": "System is busy"}
    )

    def stk_push(self, request):
        return self.reply


class GatewayDown(Busy):
    reply = Reply(503, "<html>Service Unavailable</html>")


@pytest.mark.parametrize(("simulator", "code"), [(Busy, "500.003.02"), (GatewayDown, "http_503")])
def test_a_busy_daraja_is_transient_and_the_push_is_sent_once(simulator, code):
    with simulator(callback_delay=None) as sim:
        with pytest.raises(ProviderError) as caught:
            push(provider_for(sim))

        assert (caught.value.code, caught.value.transient) == (code, True)
        assert len(stk_requests(sim)) == 1


def test_an_unreachable_daraja_is_transient(daraja):
    mpesa = provider_for(daraja)
    daraja.stop()

    with pytest.raises(ProviderError) as caught:
        push(mpesa)

    assert caught.value.transient


def test_the_callback_daraja_posts_reads_as_the_payment_it_made(daraja, mpesa, receiver):
    started = push(mpesa, callback_url=f"{receiver.base_url}/stk")
    daraja.deliver_pending()

    [event] = received_events(mpesa, receiver)

    assert event.event_key == event.callback_key == started.callback_key
    assert event.verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.receipt == daraja.pushes[started.provider_reference].receipt
    assert event.verdict.amount == Money.of("1200", "KES")
    assert event.trusted is False


def test_a_different_amount_paid_and_a_double_delivery_are_visible(daraja, mpesa, receiver):
    daraja.script("amount:1000")
    daraja.script("twice")
    push(mpesa, phone="+254708374141", callback_url=f"{receiver.base_url}/stk")
    push(mpesa, phone="+254708374142", callback_url=f"{receiver.base_url}/stk")
    daraja.deliver_pending()

    short, first, second = received_events(mpesa, receiver)

    assert short.verdict.amount == Money.of("1000", "KES")
    assert first == second


def test_logs_never_carry_the_passkey_secret_token_or_password(daraja, mpesa, caplog):
    caplog.set_level(logging.DEBUG)
    started = push(mpesa)
    mpesa.status_query(
        provider_reference=started.provider_reference, provider_data={}, amount=Money.of(1, "KES")
    )
    with pytest.raises(ProviderError):
        push(provider_for(daraja, passkey="wrong-passkey-value"), phone="+254708374141")

    secrets = [
        VECTOR["Passkey"],
        SECRET,
        cache.get(mpesa.token_cache_key),
        daraja.pushes[started.provider_reference].request["Password"],
        "wrong-passkey-value",
    ]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert started.provider_reference in logged  # the logs are there, and useful
    for secret in secrets:
        assert secret not in logged
    assert VECTOR["Passkey"] not in repr(mpesa)


def test_the_registry_builds_it_from_the_settings_option_names(settings, daraja):
    settings.PAYMENT_PROVIDERS = {
        "mpesa": {
            "class": "payments.providers.mpesa.MpesaExpressProvider",
            "options": {
                "base_url": daraja.base_url,
                "consumer_key": "sim-consumer-key",
                "consumer_secret": SECRET,
                "shortcode": "174379",
                "passkey": VECTOR["Passkey"],
                "callback_token": "tok",
                "transaction_type": "CustomerPayBillOnline",
                "initiator": "",
                "security_credential": "",
                "allowed_ips": ["196.201.214.200"],
            },
        }
    }
    _build.cache_clear()

    mpesa = provider_get("mpesa")

    assert mpesa.name == "mpesa"
    assert mpesa.allowed_ips == ("196.201.214.200",)
    assert mpesa.callback_token == "tok"
    assert push(mpesa).provider_reference in daraja.pushes
    _build.cache_clear()
