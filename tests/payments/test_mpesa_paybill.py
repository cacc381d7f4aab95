"""Paybill (C2B) and Transaction Status end to end: the fake Daraja on its own, then with the
M-Pesa adapter registering URLs, reading validation/confirmation and status results."""

import hashlib

import pytest

from billing.money import Money
from payments.providers.base import Outcome, ProviderError
from payments.simulators.daraja import DarajaSimulator
from tests.payments.mpesa_support import Receiver, post, provider_for, push, received_events


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


def _register(daraja, receiver, response_type="Completed"):
    body = {
        "ShortCode": "174379",
        "ResponseType": response_type,
        "ConfirmationURL": f"{receiver.base_url}/confirmation",
        "ValidationURL": f"{receiver.base_url}/validation",
    }
    return post(daraja, "/mpesa/c2b/v1/registerurl", body)


def test_registering_c2b_urls_checks_the_response_type(daraja, receiver):
    assert _register(daraja, receiver, "[Cancelled/Completed]").status_code == 400
    response = _register(daraja, receiver)

    assert response.json()["ResponseCode"] == "0"
    assert "OriginatorCoversationID" in response.json()


def test_paybill_payment_is_validated_then_confirmed_with_a_hashed_msisdn(daraja, receiver):
    _register(daraja, receiver)

    trans_id = daraja.simulate_paybill("100000011", 1200, msisdn="254708374149")
    daraja.deliver_pending()

    [validation] = receiver.at("/validation")
    [confirmation] = receiver.at("/confirmation")
    assert validation.json["TransID"] == confirmation.json["TransID"] == trans_id
    assert confirmation.json["TransAmount"] == "1200.00"
    assert confirmation.json["BillRefNumber"] == "100000011"
    assert confirmation.json["MSISDN"] == hashlib.sha256(b"254708374149").hexdigest()
    assert daraja.paybills[trans_id].status == "completed"


def test_paybill_payment_refused_at_validation_is_not_confirmed(daraja, receiver):
    _register(daraja, receiver)
    receiver.answers["/validation"] = {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}

    trans_id = daraja.simulate_paybill("999999999", 50)
    daraja.deliver_pending()

    assert receiver.at("/confirmation") == []
    assert daraja.paybills[trans_id].status == "rejected"


def test_transaction_status_posts_the_result_to_the_result_url(daraja, receiver):
    _register(daraja, receiver)
    trans_id = daraja.simulate_paybill("100000011", 300)
    daraja.deliver_pending()
    body = {
        "Initiator": "testapi",
        "SecurityCredential": "x",
        "CommandID": "TransactionStatusQuery",
        "TransactionID": trans_id,
        "PartyA": "174379",
        "IdentifierType": "4",
        "ResultURL": f"{receiver.base_url}/result",
        "QueueTimeOutURL": f"{receiver.base_url}/q",
        "Remarks": "OK",
        "Occasion": "",
    }

    response = post(daraja, "/mpesa/transactionstatus/v1/query", body)
    unknown = post(daraja, "/mpesa/transactionstatus/v1/query", {**body, "TransactionID": "NOPE"})
    daraja.deliver_pending()

    assert response.json()["ResponseCode"] == unknown.json()["ResponseCode"] == "0"
    found, missing = (r.json["Result"] for r in receiver.at("/result"))
    assert found["ResultCode"] == 0
    assert {"Key": "ReceiptNo", "Value": trans_id} in found["ResultParameters"]["ResultParameter"]
    assert missing["ResultCode"] == "R000002"


def test_paybill_urls_registered_then_validation_and_confirmation_read(daraja, mpesa, receiver):
    answer = mpesa.c2b_register(
        validation_url=f"{receiver.base_url}/validation",
        confirmation_url=f"{receiver.base_url}/confirmation",
    )
    trans_id = daraja.simulate_paybill("100000011", 1200)
    daraja.deliver_pending()

    [validation] = received_events(mpesa, receiver, "/validation", "c2b_validation")
    [confirmation] = received_events(mpesa, receiver, "/confirmation", "c2b_confirmation")

    assert answer["ResponseCode"] == "0"
    assert validation.paybill == confirmation.paybill
    assert confirmation.event_key == confirmation.paybill.receipt == trans_id
    assert confirmation.paybill.amount == Money.of("1200", "KES")
    assert confirmation.paybill.bill_reference == "100000011"
    assert len(confirmation.paybill.payer) == 64  # a SHA-256 of the MSISDN, as live


def test_a_validation_refusal_stops_the_payment(daraja, mpesa, receiver):
    mpesa.c2b_register(
        validation_url=f"{receiver.base_url}/validation",
        confirmation_url=f"{receiver.base_url}/confirmation",
    )
    receiver.answers["/validation"] = mpesa.c2b_validation_ack(accepted=False).body

    trans_id = daraja.simulate_paybill("100000012", 1200)
    daraja.deliver_pending()

    assert receiver.at("/confirmation") == []
    assert daraja.paybills[trans_id].status == "rejected"


def test_transaction_status_confirms_a_receipt_and_denies_an_unknown_one(daraja, mpesa, receiver):
    started = push(mpesa)
    daraja.deliver_pending()
    receipt = daraja.pushes[started.provider_reference].receipt
    urls = {
        "result_url": f"{receiver.base_url}/result",
        "queue_timeout_url": f"{receiver.base_url}/q",
    }

    mpesa.transaction_status_request(transaction_id=receipt, **urls)
    mpesa.transaction_status_request(transaction_id="SXXXXXXXXX", **urls)
    daraja.deliver_pending()
    found, unknown = (mpesa.transaction_status_result_parse(r.body) for r in receiver.at("/result"))

    assert (found.outcome, found.receipt) == (Outcome.SUCCEEDED, receipt)
    assert found.amount == Money.of("1200", "KES")
    assert (unknown.outcome, unknown.failure_code) == (Outcome.FAILED, "R000002")


def test_transaction_status_needs_an_initiator(daraja):
    with pytest.raises(ProviderError) as caught:
        provider_for(daraja, initiator="").transaction_status_request(
            transaction_id="X", result_url="http://x/r", queue_timeout_url="http://x/q"
        )

    assert caught.value.code == "not_configured"
