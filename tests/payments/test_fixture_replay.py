"""Every operator callback sample in shared/fixtures, replayed against our public URLs, gives its
documented outcome; the same payloads with a wrong token or signature credit nothing.

Status queries (the doubt rule asks the operator about untrusted successes) are answered by
`responses` with the operators' documented answers, so the adapters' own HTTP code runs.
"""

import copy
import json

import pytest
import responses
from django.utils import timezone

from billing.models import JournalKind, JournalTransaction, Payment
from billing.money import Money
from payments.models import (
    CallbackDelivery,
    CallbackStatus,
    Channel,
    IntentStatus,
    PaymentIntent,
    SuspensePayment,
)
from tests.billing.factories import account_make
from tests.payments.support import FIXTURES, MPESA_TOKEN, fixture_body, mpesa_conf

pytestmark = pytest.mark.django_db

TOKENS = {
    "mpesa": MPESA_TOKEN,
    "orange": "orange-tok-9f8e7d",
    "airtel": "airtel-tok-1a2b3c",
    "mtn": "mtn-tok-4d5e6f",
}
PROVIDERS = {
    "mpesa": mpesa_conf("https://daraja.test"),
    "orange": {
        "class": "payments.providers.orange_money.OrangeWebPayProvider",
        "options": {
            "base_url": "https://orange.test",
            "client_id": "c",
            "client_secret": "s",
            "merchant_key": "ad8b9717",
            "country": "ci",
            "currency": "XOF",
            "callback_token": TOKENS["orange"],
            "lang": "fr",
            "allowed_ips": [],
        },
    },
    "airtel": {
        "class": "payments.providers.airtel_money.AirtelMoneyProvider",
        "options": {
            "base_url": "https://airtel.test",
            "client_id": "c",
            "client_secret": "s",
            "country": "UG",
            "currency": "UGX",
            "callback_token": TOKENS["airtel"],
            "callback_private_key": "",
            "allowed_ips": [],
        },
    },
    "mtn": {
        "class": "payments.providers.mtn_momo.MtnMomoProvider",
        "options": {
            "base_url": "https://mtn.test",
            "api_user": "u",
            "api_key": "k",
            "subscription_key": "sk",
            "target_environment": "mtnuganda",
            "callback_token": TOKENS["mtn"],
            "allowed_ips": [],
        },
    },
}
URLS = {
    "mpesa": "/payments/mpesa/stk/{}/",
    "orange": "/payments/orange/notify/{}/",
    "airtel": "/payments/airtel/callback/{}/",
    "mtn": "/payments/mtn/callback/{}/",
}
# fixture -> (provider, callback key, intent amount, currency, status, receipt, failure code)
CASES = {
    "mpesa_stk_callback_success.json": (
        "mpesa",
        "ws_CO_191220191020363925",
        "1",
        "KES",
        "succeeded",
        "NLJ7RT61SV",
        "",
    ),
    "mpesa_stk_callback_cancelled_1032.json": (
        "mpesa",
        "ws_CO_21072024125243250722943992",
        "10",
        "KES",
        "cancelled",
        "",
        "1032",
    ),
    "mpesa_stk_callback_expired_1019.json": (
        "mpesa",
        "ws_CO_23052022122137653708374149",
        "10",
        "KES",
        "expired",
        "",
        "1019",
    ),
    "mpesa_stk_callback_insufficient_funds_1.json": (
        "mpesa",
        "ws_CO_21072024125243250722943992",
        "10",
        "KES",
        "failed",
        "",
        "1",
    ),
    "mpesa_stk_callback_timeout_1037.json": (
        "mpesa",
        "ws_CO_21072024125243250722943992",
        "10",
        "KES",
        "failed",
        "",
        "1037",
    ),
    "mpesa_stk_callback_wrong_pin_2001.json": (
        "mpesa",
        "ws_CO_21072024125243250722943992",
        "10",
        "KES",
        "failed",
        "",
        "2001",
    ),
    "orange_notification_success.json": (
        "orange",
        "dd497bda3b250e536186fc0663f32f40",
        "1500",
        "XOF",
        "succeeded",
        "MP150709.1341.A00073",
        "",
    ),
    "airtel_callback_success.json": (
        "airtel",
        "BBZMiscxy",
        "5000",
        "UGX",
        "succeeded",
        "C3648.00993.538XX.XX67",
        "",
    ),
    "airtel_callback_failed.json": ("airtel", "BBZMiscxy", "5000", "UGX", "failed", "", "TF"),
    "momo_callback_successful.json": ("mtn", "6353636", "5", "EUR", "succeeded", "1232581108", ""),
}
SUCCESSES = [name for name, case in CASES.items() if case[4] == "succeeded"]


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())["payload"]


@pytest.fixture
def operators(settings):
    settings.PAYMENT_PROVIDERS = copy.deepcopy(PROVIDERS)
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.PAYMENTS_HTTP_BACKOFF = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.post(
            "https://orange.test/oauth/v3/token", json={"access_token": "t", "expires_in": 3600}
        )
        http.post(
            "https://orange.test/orange-money-webpay/ci/v1/transactionstatus",
            status=201,
            json={"status": "SUCCESS", "order_id": "ORDER1", "txnid": "MP150709.1341.A00073"},
        )
        http.post(
            "https://airtel.test/auth/oauth2/token",
            json={"access_token": "t", "expires_in": "180", "token_type": "bearer"},
        )
        enquiry = payload("airtel_transaction_enquiry_response.json")
        enquiry["data"]["transaction"]["id"] = "BBZMiscxy"
        http.get("https://airtel.test/standard/v1/payments/BBZMiscxy", json=enquiry)
        http.post(
            "https://mtn.test/collection/token/", json={"access_token": "t", "expires_in": 3600}
        )
        http.get(
            "https://mtn.test/collection/v1_0/requesttopay/7c9e6679-7425-40de-944b-e07fc1f90ae7",
            json=payload("momo_callback_successful.json"),
        )
        yield http


def pending_intent(provider, key, amount, currency) -> PaymentIntent:
    account = account_make(currency=currency)
    provider_data = {"pay_token": "f5720dd9", "order_id": "ORDER1"} if provider == "orange" else {}
    reference = "7c9e6679-7425-40de-944b-e07fc1f90ae7" if provider == "mtn" else key
    return PaymentIntent.objects.create(
        account=account,
        provider=provider,
        phone="+254708374149",
        currency=currency,
        amount_minor=Money.of(amount, currency).minor,
        status=IntentStatus.PENDING,
        channel=Channel.USSD,
        idempotency_key=f"ussd:{key}",
        provider_reference=reference,
        callback_key=key,
        provider_data=provider_data,
        pushed_at=timezone.now(),
    )


def replay(client, provider: str, name: str, *, token: str | None = None, method="post"):
    url = URLS[provider].format(token or TOKENS[provider])
    send = getattr(client, method)
    return send(url, data=fixture_body(name), content_type="application/json")


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_sample_gives_its_documented_outcome(operators, client, name):
    provider, key, amount, currency, status, receipt, code = CASES[name]
    intent = pending_intent(provider, key, amount, currency)

    first = replay(client, provider, name)
    again = replay(client, provider, name)

    intent.refresh_from_db()
    assert first.status_code == 200, first.content
    assert again.status_code == 200
    assert intent.status == status
    assert intent.receipt == receipt
    assert intent.failure_code == code
    credits = JournalTransaction.objects.filter(kind=JournalKind.PAYMENT).count()
    assert credits == (1 if status == IntentStatus.SUCCEEDED else 0)
    if status == IntentStatus.SUCCEEDED:
        assert Payment.objects.get().amount_minor == intent.amount_minor
    else:
        assert intent.failure_message  # something the customer can read


@pytest.mark.parametrize("name", SUCCESSES)
def test_a_sample_with_a_wrong_token_credits_nothing(operators, client, name):
    provider, key, amount, currency, *_ = CASES[name]
    intent = pending_intent(provider, key, amount, currency)

    response = replay(client, provider, name, token="wrong-token")

    intent.refresh_from_db()
    assert response.status_code == 403
    assert intent.status == IntentStatus.PENDING
    assert Payment.objects.count() == 0
    assert CallbackDelivery.objects.get().status == CallbackStatus.REJECTED


def test_an_airtel_sample_without_the_hash_is_refused_when_authentication_is_on(
    operators, client, settings
):
    settings.PAYMENT_PROVIDERS["airtel"]["options"]["callback_private_key"] = "airtel-key"
    intent = pending_intent("airtel", "BBZMiscxy", "5000", "UGX")

    response = replay(client, "airtel", "airtel_callback_success.json")

    intent.refresh_from_db()
    assert response.status_code == 403
    assert intent.status == IntentStatus.PENDING
    assert Payment.objects.count() == 0


def test_mtn_calls_back_with_put_too(operators, client):
    intent = pending_intent("mtn", "6353636", "5", "EUR")

    response = replay(client, "mtn", "momo_callback_successful.json", method="put")

    intent.refresh_from_db()
    assert response.status_code == 200
    assert intent.status == IntentStatus.SUCCEEDED


def test_the_paybill_sample_is_parked_in_suspense_and_acknowledged(operators, client):
    account_make(currency="KES")
    url = f"/payments/mpesa/c2b/confirmation/{MPESA_TOKEN}/"

    response = client.post(
        url, data=fixture_body("mpesa_c2b_confirmation.json"), content_type="application/json"
    )

    assert response.json() == {"ResultCode": 0, "ResultDesc": "Success"}
    assert SuspensePayment.objects.get().receipt == "RKL51ZDR4F"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_sample_for_a_payment_we_never_asked_for_is_kept_and_acknowledged(
    operators, client, name
):
    provider = CASES[name][0]

    response = replay(client, provider, name)

    assert response.status_code == 200
    assert CallbackDelivery.objects.get().status == CallbackStatus.UNMATCHED
    assert Payment.objects.count() == 0
