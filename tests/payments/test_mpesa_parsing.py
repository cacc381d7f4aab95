"""Daraja callbacks as the M-Pesa adapter reads them: every STK and C2B sample in
shared/fixtures, live quirks, and anything malformed."""

import copy
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from payments.providers.base import CallbackRejected, Outcome
from payments.providers.mpesa_wire import stk_password
from tests.payments.mpesa_support import fixture, inbound, offline_provider, raw


@pytest.fixture
def mpesa():
    return offline_provider()


def test_password_is_base64_of_shortcode_passkey_timestamp_as_published():
    vector = fixture("mpesa_stk_password_vector")["payload"]

    password = stk_password(vector["BusinessShortCode"], vector["Passkey"], vector["Timestamp"])

    assert password == vector["Password"]


def test_successful_stk_callback_is_a_payment_with_receipt_and_amount(mpesa):
    event = mpesa.callback_parse(inbound("stk", raw("mpesa_stk_callback_success")))

    assert event.event_key == event.callback_key == "ws_CO_191220191020363925"
    assert event.verdict.outcome == Outcome.SUCCEEDED
    assert event.verdict.receipt == "NLJ7RT61SV"
    assert event.verdict.amount == Money.of("1.00", "KES")
    assert event.trusted is False
    assert event.paybill is None


@pytest.mark.parametrize(
    ("name", "outcome", "code", "message"),
    [
        (
            "mpesa_stk_callback_cancelled_1032",
            Outcome.CANCELLED,
            "1032",
            "You cancelled the payment.",
        ),
        (
            "mpesa_stk_callback_expired_1019",
            Outcome.EXPIRED,
            "1019",
            "The payment request expired.",
        ),
        ("mpesa_stk_callback_timeout_1037", Outcome.FAILED, "1037", "No answer from your phone."),
        ("mpesa_stk_callback_wrong_pin_2001", Outcome.FAILED, "2001", "Wrong PIN."),
        (
            "mpesa_stk_callback_insufficient_funds_1",
            Outcome.FAILED,
            "1",
            "Not enough money in your M-Pesa account.",
        ),
    ],
)
def test_failed_stk_callback_says_why_in_words_the_customer_reads(
    mpesa, name, outcome, code, message
):
    payload = fixture(name)["payload"]

    event = mpesa.callback_parse(inbound("stk", raw(name)))

    assert event.event_key == payload["Body"]["stkCallback"]["CheckoutRequestID"]
    assert (event.verdict.outcome, event.verdict.failure_code) == (outcome, code)
    assert event.verdict.failure_message == message
    assert (event.verdict.receipt, event.verdict.amount) == ("", None)


def _success_with(items):
    payload = copy.deepcopy(fixture("mpesa_stk_callback_success")["payload"])
    payload["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = items
    return json.dumps(payload).encode()


def test_live_callback_items_are_read_by_name_with_a_balance_item_without_value(mpesa):
    body = _success_with(
        [
            {"Name": "MpesaReceiptNumber", "Value": "QWE123RTY9"},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": 20240101120000},
            {"Name": "Amount", "Value": 1200},
            {"Name": "PhoneNumber", "Value": 254708374149},
        ]
    )

    verdict = mpesa.callback_parse(inbound("stk", body)).verdict

    assert (verdict.outcome, verdict.receipt) == (Outcome.SUCCEEDED, "QWE123RTY9")
    assert verdict.amount == Money.of("1200", "KES")


def test_result_code_zero_without_a_receipt_is_not_a_payment(mpesa):
    body = _success_with([{"Name": "Amount", "Value": 1.00}])

    verdict = mpesa.callback_parse(inbound("stk", body)).verdict

    assert verdict.outcome == Outcome.PENDING
    assert verdict.receipt == ""


def test_an_unknown_failure_code_still_fails_with_a_readable_reason(mpesa):
    body = json.dumps(
        {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 4242}}}
    ).encode()

    verdict = mpesa.callback_parse(inbound("stk", body)).verdict

    assert (verdict.outcome, verdict.failure_code) == (Outcome.FAILED, "4242")
    assert verdict.failure_message == "M-Pesa could not complete the payment."


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"Body"',
        b"{}",
        b'{"Body": {}}',
        b'{"Body": {"stkCallback": "x"}}',
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1"}}}',
        b'{"Body": {"stkCallback": {"ResultCode": 0}}}',
        b'{"Body": {"stkCallback": {"ResultCode": 0, "CheckoutRequestID": 5}}}',
    ],
)
def test_malformed_stk_callback_is_rejected_as_bad_request(mpesa, body):
    with pytest.raises(CallbackRejected) as caught:
        mpesa.callback_parse(inbound("stk", body))

    assert caught.value.status == 400


def test_an_unreadable_amount_on_a_success_is_rejected(mpesa):
    for value in ("abc", -5, 0, "1.005", None, [1]):
        with pytest.raises(CallbackRejected):
            mpesa.callback_parse(
                inbound(
                    "stk",
                    _success_with(
                        [
                            {"Name": "MpesaReceiptNumber", "Value": "R1"},
                            {"Name": "Amount", "Value": value},
                        ]
                    ),
                )
            )


def test_an_unknown_callback_kind_is_refused(mpesa):
    with pytest.raises(CallbackRejected) as caught:
        mpesa.callback_parse(inbound("orange", raw("mpesa_stk_callback_success")))

    assert caught.value.status == 404


@pytest.mark.parametrize("kind", ["c2b_validation", "c2b_confirmation"])
def test_paybill_notification_is_read_as_sent(mpesa, kind):
    event = mpesa.callback_parse(inbound(kind, raw("mpesa_c2b_confirmation")))

    assert event.event_key == "RKL51ZDR4F"
    assert event.callback_key == ""
    assert event.verdict is None
    assert event.trusted is False
    payment = event.paybill
    assert payment.receipt == "RKL51ZDR4F"
    assert payment.amount == Money.of("5.00", "KES")
    assert payment.bill_reference == "Sample Transaction"
    assert payment.payer == "2547 ***** 126"
    assert payment.payer_name == "NICHOLAS"


def test_paybill_reference_is_stripped_and_a_hashed_msisdn_kept_as_is(mpesa):
    payload = dict(fixture("mpesa_c2b_confirmation")["payload"])
    hashed = hashlib.sha256(b"254708374149").hexdigest()
    payload.update(BillRefNumber="  100000011 ", MSISDN=hashed, TransAmount="1200")

    payment = mpesa.callback_parse(
        inbound("c2b_confirmation", json.dumps(payload).encode())
    ).paybill

    assert (payment.bill_reference, payment.payer) == ("100000011", hashed)
    assert payment.amount == Money.of("1200", "KES")


@pytest.mark.parametrize(
    "change",
    [
        {"TransID": ""},
        {"TransID": None},
        {"TransAmount": "abc"},
        {"TransAmount": "-5"},
        {"TransAmount": "5.005"},
        {"TransAmount": None},
    ],
)
def test_malformed_paybill_notification_is_rejected(mpesa, change):
    payload = {**fixture("mpesa_c2b_confirmation")["payload"], **change}

    with pytest.raises(CallbackRejected) as caught:
        mpesa.callback_parse(inbound("c2b_confirmation", json.dumps(payload).encode()))

    assert caught.value.status == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Body",
                    "stkCallback",
                    "ResultCode",
                    "CheckoutRequestID",
                    "CallbackMetadata",
                    "Item",
                    "Name",
                    "Value",
                    "TransID",
                    "TransAmount",
                    "Result",
                    "ResultParameters",
                    "ResultParameter",
                    "Key",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(data=json_values, kind=st.sampled_from(["stk", "c2b_validation", "c2b_confirmation"]))
def test_any_json_is_either_parsed_or_rejected_never_a_crash(data, kind):
    mpesa = offline_provider()
    try:
        event = mpesa.callback_parse(inbound(kind, json.dumps(data).encode()))
    except CallbackRejected as rejected:
        assert rejected.status == 400
    else:
        assert event.event_key
