"""Airtel Money: the published samples and callback authentication, read by the provider."""

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
import responses
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from payments.providers.airtel_money import AirtelMoneyProvider, callback_event, enquiry_verdict
from payments.providers.base import (
    CallbackRejected,
    Outcome,
    ProviderError,
    PushRequest,
)
from payments.providers.http import HttpResponse

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"
PRIVATE_KEY = "airtel-private-key-for-tests"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def signed(body: dict, key: str = PRIVATE_KEY) -> bytes:
    """The documented construction, written out: HMAC-SHA256 over the compact transaction."""
    compact = json.dumps(body["transaction"], separators=(",", ":"))
    digest = hmac.new(key.encode(), compact.encode(), hashlib.sha256).digest()
    return json.dumps({**body, "hash": base64.b64encode(digest).decode()}).encode()


# --- the published samples ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "outcome"),
    [("airtel_callback_success", Outcome.SUCCEEDED), ("airtel_callback_failed", Outcome.FAILED)],
)
def test_published_callbacks_parse_to_their_outcome_untrusted_without_a_key(name, outcome):
    event = callback_event(json.dumps(fixture(name)["payload"]).encode())
    assert event.verdict.outcome == outcome
    assert event.event_key == event.callback_key == "BBZMiscxy"
    assert event.trusted is False
    if outcome == Outcome.SUCCEEDED:
        assert event.verdict.receipt == "MP210603.1234.L06941"


def test_callback_with_the_right_hash_is_trusted():
    event = callback_event(
        signed(fixture("airtel_callback_success")["payload"]), private_key=PRIVATE_KEY
    )
    assert event.trusted is True
    assert event.verdict.outcome == Outcome.SUCCEEDED


@pytest.mark.parametrize(
    "forge",
    [
        lambda body: json.dumps(fixture("airtel_callback_success")["payload"]).encode(),
        lambda body: signed(body, key="someone-elses-key"),
        lambda body: signed(body).replace(b'"TF"', b'"TS"'),  # signed a failure, says success
        lambda body: json.dumps(
            {**body, "hash": "zITVAAGYSlzl1WkUQJn81kbpT5drH3koffT8jCkcJJA="}
        ).encode(),
    ],
    ids=["missing", "other-key", "tampered", "published-placeholder"],
)
def test_forged_callback_is_refused_with_403(forge):
    body = fixture("airtel_callback_failed")["payload"]
    with pytest.raises(CallbackRejected) as refused:
        callback_event(forge(body), private_key=PRIVATE_KEY)
    assert refused.value.status == 403


@pytest.mark.parametrize(
    "body",
    [
        b"<xml/>",
        b'{"id": "x"}',
        b'{"transaction": {"status_code": "TS"}}',
        b'{"transaction": {"id": "x", "status_code": "OK"}}',
        b'{"transaction": {"id": "x", "status_code": "TS", "airtel_money_id": 5}}',
        b'{"transaction": "x"}',
    ],
)
def test_malformed_callback_is_refused_with_400_even_with_authentication_on(body):
    with pytest.raises(CallbackRejected) as refused:
        callback_event(body, private_key=PRIVATE_KEY)
    assert refused.value.status == 400


def test_an_intermediate_callback_cannot_shadow_the_final_one():
    body = {"transaction": {"id": "T1", "message": "", "status_code": "TIP"}}
    pending = callback_event(json.dumps(body).encode())
    body["transaction"]["status_code"] = "TS"
    final = callback_event(json.dumps(body).encode())
    assert pending.verdict.outcome == Outcome.PENDING
    assert pending.event_key != final.event_key == "T1"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=5,
)
TRANSACTION = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON | st.text(min_size=1),
        "status_code": JSON | st.sampled_from(["TS", "TF", "TIP"]),
        "airtel_money_id": JSON,
    },
)


@given(
    st.one_of(
        st.binary(),
        JSON,
        st.fixed_dictionaries({"transaction": TRANSACTION | JSON}, optional={"hash": JSON}),
    )
)
def test_any_callback_body_is_read_or_refused_never_crashes(value):
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    for key in ("", PRIVATE_KEY):
        try:
            callback_event(body, private_key=key)
        except CallbackRejected as refused:
            assert refused.status in (400, 403)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("TS", Outcome.SUCCEEDED),
        ("TF", Outcome.FAILED),
        ("TA", Outcome.PENDING),
        ("TIP", Outcome.PENDING),
        ("TI", Outcome.PENDING),
    ],
)
def test_enquiry_status_maps_ambiguous_to_pending(status, outcome):
    payload = fixture("airtel_transaction_enquiry_response")["payload"]
    payload["data"]["transaction"]["status"] = status
    verdict = enquiry_verdict(HttpResponse(200, payload, ""))
    assert verdict.outcome == outcome
    if outcome == Outcome.SUCCEEDED:
        assert verdict.receipt == "C3648.00993.538XX.XX67"


def test_enquiry_refused_inside_http_200_is_a_provider_error():
    payload = {"data": {}, "status": {"result_code": "ESB000045", "success": False}}
    with pytest.raises(ProviderError) as refused:
        enquiry_verdict(HttpResponse(200, payload, ""))
    assert refused.value.code == "ESB000045"


@responses.activate
def test_published_collection_response_is_a_started_push_on_our_transaction_id():
    base = "https://openapiuat.airtel.test"
    responses.post(
        f"{base}/auth/oauth2/token",
        json={"access_token": "t0k3n", "expires_in": "180", "token_type": "bearer"},
    )
    published = fixture("airtel_collection_response")["payload"]
    responses.post(f"{base}/merchant/v1/payments/", json=published)
    provider = AirtelMoneyProvider(
        base_url=base,
        client_id="id",
        client_secret="secret",
        country="UG",
        currency="UGX",
        callback_token="url-token",
    )
    request = PushRequest(
        reference="6f1c0e1b9a2d4c4f8e3b7a5d9c1e2f30",
        phone="+256752123456",
        amount=Money(1000, "UGX"),
        account_number="UG-7781",
        description="Testing transaction",
        callback_url="https://billing.example.com/payments/airtel/callback/url-token/",
    )
    started = provider.push_start(request)
    assert started.provider_reference == started.callback_key == request.reference
    sent = json.loads(responses.calls[1].request.body)
    documented = fixture("airtel_collection_request")["payload"]
    assert sent["subscriber"] == {**documented["subscriber"], "msisdn": "752123456"}
    assert sent["transaction"] == {**documented["transaction"], "id": request.reference}
