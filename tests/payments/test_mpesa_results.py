"""What the M-Pesa adapter reads besides callbacks: STK query answers, Transaction Status and
Reversal results, sync errors; and the acknowledgements it writes."""

import copy
import json

import pytest
from hypothesis import given

from billing.money import Money
from payments.providers.base import CallbackRejected, Outcome, ProviderError
from payments.providers.http import HttpResponse
from payments.providers.mpesa_wire import error_from, stk_query_verdict
from tests.payments.mpesa_support import fixture, inbound, offline_provider, raw
from tests.payments.test_mpesa_parsing import json_values


@pytest.fixture
def mpesa():
    return offline_provider()


def test_stk_query_answers_carry_result_code_as_a_string():
    done = fixture("mpesa_stk_query_response")["payload"]
    cancelled = fixture("mpesa_stk_query_response_cancelled")["payload"]

    assert stk_query_verdict(HttpResponse(200, done, "")).outcome == Outcome.SUCCEEDED
    verdict = stk_query_verdict(HttpResponse(200, cancelled, ""))
    assert (verdict.outcome, verdict.failure_code) == (Outcome.CANCELLED, "1032")
    assert verdict.failure_message == "You cancelled the payment."


def test_stk_query_being_processed_is_pending():
    body = {
        "requestId": "1",
        "errorCode": "500.001.1001",
        "errorMessage": "The transaction is being processed",
    }

    assert stk_query_verdict(HttpResponse(500, body, "")).outcome == Outcome.PENDING


def test_transaction_status_result_with_duplicate_keys_and_missing_values(mpesa):
    payload = fixture("mpesa_transaction_status_result_success")["payload"]

    verdict = mpesa.transaction_status_result_parse(json.dumps(payload).encode())

    assert (verdict.outcome, verdict.receipt) == (Outcome.SUCCEEDED, "MBN31H462N")
    assert verdict.amount == Money.of("300", "KES")


def test_transaction_status_result_with_a_single_parameter_object(mpesa):
    payload = copy.deepcopy(fixture("mpesa_transaction_status_result_success")["payload"])
    payload["Result"]["ResultParameters"]["ResultParameter"] = {"Key": "ReceiptNo", "Value": "X1"}

    verdict = mpesa.transaction_status_result_parse(payload)

    assert verdict.outcome == Outcome.PENDING  # a receipt alone does not say it completed


def test_transaction_status_failure_is_not_a_confirmation(mpesa):
    payload = {
        "Result": {"ResultCode": 2001, "ResultDesc": "The initiator information is invalid."}
    }

    verdict = mpesa.transaction_status_result_parse(payload)

    assert (verdict.outcome, verdict.failure_code) == (Outcome.FAILED, "2001")


def test_reversal_results_number_and_string_result_codes(mpesa):
    done = mpesa.reversal_result_parse(raw("mpesa_reversal_result_success"))
    failed = mpesa.reversal_result_parse(raw("mpesa_reversal_result_failed"))

    assert (done.outcome, done.receipt) == (Outcome.SUCCEEDED, "SKE52PAWR9")
    assert done.amount == Money.of("1.00", "KES")
    assert (failed.outcome, failed.failure_code) == (Outcome.FAILED, "R000002")
    assert failed.failure_message == "The OriginalTransactionID is invalid."


@given(data=json_values)
def test_any_result_body_is_either_a_verdict_or_rejected(data):
    mpesa = offline_provider()
    for parse in (mpesa.transaction_status_result_parse, mpesa.reversal_result_parse):
        try:
            verdict = parse(json.dumps(data).encode())
        except CallbackRejected:
            continue
        assert verdict.outcome in Outcome


def test_acknowledgements_are_the_documented_bodies(mpesa):
    stk = mpesa.callback_parse(inbound("stk", raw("mpesa_stk_callback_success")))
    paybill = mpesa.callback_parse(inbound("c2b_confirmation", raw("mpesa_c2b_confirmation")))

    assert mpesa.callback_ack(stk, accepted=True).body == {
        "ResultCode": 0,
        "ResultDesc": "Accepted",
    }
    assert mpesa.callback_ack(paybill, accepted=True).body == {
        "ResultCode": 0,
        "ResultDesc": "Success",
    }
    assert mpesa.callback_ack(None, accepted=False).status == 400
    accept = mpesa.c2b_validation_ack(accepted=True)
    assert (accept.status, accept.body) == (
        200,
        fixture("mpesa_c2b_validation_response_accept")["payload"],
    )
    reject = mpesa.c2b_validation_ack(accepted=False, reason="invalid_msisdn")
    assert reject.body == fixture("mpesa_c2b_validation_response_reject")["payload"]


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("invalid_msisdn", "C2B00011"),
        ("invalid_account", "C2B00012"),
        ("invalid_amount", "C2B00013"),
        ("invalid_kyc", "C2B00014"),
        ("invalid_shortcode", "C2B00015"),
        ("other", "C2B00016"),
    ],
)
def test_validation_refusals_use_the_documented_codes(mpesa, reason, code):
    assert mpesa.c2b_validation_ack(accepted=False, reason=reason).body == {
        "ResultCode": code,
        "ResultDesc": "Rejected",
    }


def test_an_unknown_account_is_refused_at_validation_by_default(mpesa):
    assert mpesa.c2b_validation_ack(accepted=False).body["ResultCode"] == "C2B00012"
    with pytest.raises(ValueError):
        mpesa.c2b_validation_ack(accepted=False, reason="because")


@pytest.mark.parametrize(
    ("status", "body", "code", "transient"),
    [
        (400, fixture("mpesa_api_error_bad_request")["payload"], "400.002.02", False),
        (500, {"errorCode": "500.003.02", "errorMessage": "System is busy"}, "500.003.02", True),
        (
            500,
            {"errorCode": "500.003.02", "errorMessage": "Spike Arrest Violation"},
            "500.003.02",
            True,
        ),
        (
            500,
            {
                "errorCode": "500.001.1001",
                "errorMessage": "Unable to lock subscriber, a "
                "transaction is already in process for the current subscriber",
            },
            "500.001.1001",
            True,
        ),
        (
            500,
            {"errorCode": "500.001.1001", "errorMessage": "Wrong credentials"},
            "500.001.1001",
            False,
        ),
        (
            500,
            {"errorCode": "500.001.1001", "errorMessage": "Merchant does not exist"},
            "500.001.1001",
            False,
        ),
        (
            404,
            {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"},
            "404.001.03",
            True,
        ),
        (502, None, "http_502", True),
        (200, {"ResponseCode": "1"}, "http_200", False),
    ],
)
def test_sync_errors_say_whether_trying_again_can_help(status, body, code, transient):
    error = error_from(HttpResponse(status, body, ""), "STK push")

    assert isinstance(error, ProviderError)
    assert (error.code, error.transient) == (code, transient)
