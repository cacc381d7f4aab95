"""MTN MoMo: the published samples and the callback reader."""

import json
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from payments.providers.base import CallbackRejected, InboundCallback, Outcome, ProviderError
from payments.providers.mtn_momo import MtnMomoProvider, reference_id, wire_amount

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def provider(target_environment: str = "mtnuganda") -> MtnMomoProvider:
    return MtnMomoProvider(
        base_url="http://127.0.0.1:9",
        api_user=str(uuid.uuid4()),
        api_key="key",
        subscription_key="sub",
        target_environment=target_environment,
        callback_token="url-token",
    )


def callback(body: dict | bytes, method: str = "PUT") -> InboundCallback:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return InboundCallback("callback", method, {}, raw, "127.0.0.1")


def failed(reason) -> dict:
    body = {**fixture("momo_callback_successful")["payload"], "status": "FAILED", "reason": reason}
    del body["financialTransactionId"]
    return body


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_published_successful_callback_is_a_success_to_confirm(method):
    event = provider().callback_parse(
        callback(fixture("momo_callback_successful")["payload"], method)
    )
    assert event.verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.receipt == event.event_key == "1232581108"
    assert event.verdict.amount == Money(500, "EUR")
    assert event.callback_key == "6353636"
    assert event.trusted is False


def test_sandbox_callback_in_eur_does_not_claim_an_amount():
    body = fixture("momo_callback_successful")["payload"]
    event = provider("sandbox").callback_parse(callback(body))
    assert event.verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.amount is None


@pytest.mark.parametrize(
    ("reason", "outcome", "message"),
    [
        ("APPROVAL_REJECTED", Outcome.CANCELLED, "You declined the payment."),
        ("NOT_ENOUGH_FUNDS", Outcome.FAILED, "Not enough money in your MoMo account."),
        ("EXPIRED", Outcome.EXPIRED, "You did not approve the payment in time."),
        ({"code": "NOT_ENOUGH_FUNDS", "message": "x"}, Outcome.FAILED, "Not enough money"),
        ("INTERNAL_PROCESSING_ERROR", Outcome.FAILED, "The MoMo payment did not go through."),
    ],
)
def test_failure_reasons_become_short_customer_messages(reason, outcome, message):
    event = provider().callback_parse(callback(failed(reason)))
    assert event.verdict.outcome == outcome
    assert event.verdict.failure_message.startswith(message)
    assert event.event_key == "6353636:FAILED"


def test_a_pending_callback_cannot_shadow_the_final_one():
    body = {**fixture("momo_callback_successful")["payload"], "status": "PENDING"}
    del body["financialTransactionId"]
    pending = provider().callback_parse(callback(body))
    final = provider().callback_parse(callback(fixture("momo_callback_successful")["payload"]))
    assert pending.verdict.outcome == Outcome.PENDING
    assert pending.event_key != final.event_key


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[1]",
        b'{"status": "SUCCESSFUL"}',
        b'{"externalId": "1", "status": "DONE"}',
        b'{"externalId": "1", "status": "SUCCESSFUL", "amount": "five", "currency": "UGX"}',
        b'{"externalId": "1", "status": "SUCCESSFUL", "amount": "5.5", "currency": "UGX"}',
        b'{"externalId": "1", "status": "SUCCESSFUL", "amount": "5", "currency": "ZZZ"}',
        b'{"externalId": "1", "status": "SUCCESSFUL", "financialTransactionId": {"a": 1}}',
    ],
)
def test_malformed_callback_is_refused_with_400(body):
    with pytest.raises(CallbackRejected) as refused:
        provider().callback_parse(callback(body))
    assert refused.value.status == 400


def test_callback_with_another_method_is_refused():
    body = fixture("momo_callback_successful")["payload"]
    with pytest.raises(CallbackRejected):
        provider().callback_parse(callback(body, method="GET"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=5,
)
FIELDS = {
    "externalId": JSON | st.text(min_size=1),
    "status": JSON | st.sampled_from(["SUCCESSFUL", "FAILED", "PENDING"]),
    "amount": JSON | st.decimals().map(str),
    "currency": JSON | st.sampled_from(["UGX", "EUR"]),
    "financialTransactionId": JSON,
    "reason": JSON,
}


@given(st.one_of(st.binary(), st.fixed_dictionaries({}, optional=FIELDS)))
def test_any_callback_body_is_read_or_refused_never_crashes(value):
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    try:
        event = provider().callback_parse(callback(body))
    except CallbackRejected as refused:
        assert refused.status == 400
    else:
        amount = event.verdict.amount
        assert amount is None or amount.minor > 0
        assert len(event.verdict.receipt) <= 64 and len(event.verdict.failure_code) <= 32


@given(st.integers(min_value=1, max_value=10**12))
def test_shilling_amounts_are_strings_without_a_fraction(minor):
    assert wire_amount(Money(minor, "UGX")) == str(minor)


def test_amounts_with_cents_keep_them_and_whole_ones_do_not():
    assert wire_amount(Money(550, "EUR")) == "5.50"
    assert wire_amount(Money(500, "EUR")) == "5"


def test_reference_id_is_our_reference_written_as_a_uuid4():
    reference = uuid.uuid4()
    assert reference_id(reference.hex) == str(reference)
    assert uuid.UUID(reference_id(reference.hex)).version == 4
    with pytest.raises(ProviderError):
        reference_id("not-a-uuid")
