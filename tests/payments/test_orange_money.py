"""Orange Money Web Payment: the published samples, read by the provider."""

import json
from pathlib import Path

import pytest
import responses
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from payments.providers.base import CallbackRejected, Outcome, ProviderError, PushRequest
from payments.providers.orange_money import OrangeWebPayProvider, notification_event, wire_amount

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"
BASE = "https://api.orange.test"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


# --- the published samples ---------------------------------------------------------------------
def test_published_success_notification_is_a_success_to_confirm_with_the_operator():
    payload = fixture("orange_notification_success")["payload"]
    event = notification_event(json.dumps(payload).encode())
    assert event.verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.receipt == "MP150709.1341.A00073"
    assert event.event_key == "MP150709.1341.A00073"
    assert event.callback_key == "dd497bda3b250e536186fc0663f32f40"
    assert event.trusted is False


def test_failed_notification_without_txnid_is_keyed_without_revealing_its_token():
    token = "dd497bda3b250e536186fc0663f32f40"
    event = notification_event(json.dumps({"status": "FAILED", "notif_token": token}).encode())
    assert event.verdict.outcome == Outcome.FAILED
    assert event.verdict.failure_message
    assert event.callback_key == token
    assert event.event_key.startswith("notif:") and token not in event.event_key
    again = notification_event(json.dumps({"status": "FAILED", "notif_token": token}).encode())
    assert again.event_key == event.event_key


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"status": "SUCCESS", "txnid": "MP1"}',
        b'{"status": "INITIATED", "notif_token": "abc", "txnid": "MP1"}',
        b'{"status": ["SUCCESS"], "notif_token": "abc"}',
        b'{"status": "SUCCESS", "notif_token": "abc", "txnid": 12}',
        b'{"status": "SUCCESS", "notif_token": ""}',
    ],
)
def test_malformed_notification_is_refused_with_400(body):
    with pytest.raises(CallbackRejected) as refused:
        notification_event(body)
    assert refused.value.status == 400


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=5,
)
FIELDS = {
    "status": JSON | st.sampled_from(["SUCCESS", "FAILED"]),
    "notif_token": JSON | st.text(min_size=1),
    "txnid": JSON,
}


@given(st.one_of(st.binary(), st.fixed_dictionaries({}, optional=FIELDS)))
def test_any_notification_body_is_read_or_refused_never_crashes(value):
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    try:
        notification_event(body)
    except CallbackRejected as refused:
        assert refused.status == 400


@given(st.integers(min_value=1, max_value=10**12), st.sampled_from(["XOF", "XAF"]))
def test_cfa_franc_amounts_go_on_the_wire_as_integers(minor, currency):
    sent = wire_amount(Money(minor, currency))
    assert type(sent) is int and sent == minor


def test_an_amount_with_cents_is_refused_before_calling_orange():
    with pytest.raises(ProviderError):
        wire_amount(Money(150050, "EUR"))


@responses.activate
def test_published_init_response_becomes_a_started_push_keyed_on_its_notif_token():
    published = fixture("orange_webpay_init_response")["payload"]
    responses.post(
        f"{BASE}/oauth/v3/token",
        json={"token_type": "Bearer", "access_token": "t0k3n", "expires_in": 7776000},
    )
    responses.post(f"{BASE}/orange-money-webpay/dev/v1/webpayment", json=published, status=201)
    provider = OrangeWebPayProvider(
        base_url=BASE,
        client_id="id",
        client_secret="secret",
        merchant_key="ad8b9717",
        country="dev",
        callback_token="url-token",
    )
    request = PushRequest(
        reference="6f1c0e1b9a2d4c4f8e3b7a5d9c1e2f30",
        phone="+2250701020304",
        amount=Money(1500, "XOF"),
        account_number="CI-100234",
        description="Eau",
        callback_url="https://billing.example.com/payments/orange/notify/url-token/",
    )
    started = provider.push_start(request)
    assert started.provider_reference == published["pay_token"]
    assert started.callback_key == published["notif_token"]
    assert started.provider_data == {
        "pay_token": published["pay_token"],
        "payment_url": published["payment_url"],
        "order_id": request.reference[:30],
    }
    sent = json.loads(responses.calls[1].request.body)
    assert set(sent) == set(fixture("orange_webpay_init_request")["payload"])
