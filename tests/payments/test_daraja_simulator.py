"""The fake Daraja, spoken to over HTTP like Safaricom would be (no adapter of ours involved)."""

import base64
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from payments.simulators.base import Script
from payments.simulators.daraja import SANDBOX_PASSKEY, DarajaSimulator
from tests.payments.mpesa_support import Receiver, post, push_body, query, token


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def daraja():
    with DarajaSimulator(callback_delay=None) as sim:
        yield sim


def test_oauth_token_with_expires_in_as_a_string_and_bad_credentials_refused(daraja):
    good = token(daraja)
    bad = token(daraja, secret="wrong")

    assert good.status_code == 200
    assert good.json()["expires_in"] == "3599"
    assert (bad.status_code, bad.json()["errorCode"]) == (400, "400.008.01")


def test_a_new_token_invalidates_the_previous_one(daraja):
    first = token(daraja).json()["access_token"]
    token(daraja)

    response = post(daraja, "/mpesa/stkpush/v1/processrequest", push_body(), bearer=first)

    assert (response.status_code, response.json()["errorCode"]) == (404, "404.001.03")
    assert daraja.oauth_calls == 2


def test_valid_push_is_accepted_and_stored(daraja):
    body = push_body()

    response = post(daraja, "/mpesa/stkpush/v1/processrequest", body)

    data = response.json()
    assert (response.status_code, data["ResponseCode"]) == (200, "0")
    assert daraja.pushes[data["CheckoutRequestID"]].request == body
    assert daraja.pushes[data["CheckoutRequestID"]].merchant_request_id == data["MerchantRequestID"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("BusinessShortCode", "600000"),
        ("Timestamp", "2021-06-28 09:24"),
        ("TransactionType", "PayBill"),
        ("Amount", "1.50"),
        ("Amount", 10.5),
        ("Amount", 0),
        ("PartyA", "+254708374149"),
        ("PartyB", "600000"),
        ("PhoneNumber", "0708374149"),
        ("CallBackURL", None),
        ("CallBackURL", "mydomain.com/cb"),
        ("AccountReference", "1234567890123"),
        ("AccountReference", ""),
        ("TransactionDesc", "fourteen chars"),
    ],
)
def test_push_with_a_bad_field_gets_the_documented_400(daraja, field, value):
    response = post(daraja, "/mpesa/stkpush/v1/processrequest", push_body(**{field: value}))

    assert response.status_code == 400
    assert response.json()["errorCode"] == "400.002.02"
    assert response.json()["errorMessage"] == f"Bad Request - Invalid {field}"
    assert daraja.pushes == {}


def test_password_made_with_another_timestamp_is_wrong_credentials(daraja):
    body = push_body()
    stamp = datetime.strptime(body["Timestamp"], "%Y%m%d%H%M%S") - timedelta(seconds=1)
    body["Timestamp"] = stamp.strftime("%Y%m%d%H%M%S")  # a real time (not ...:59:99 at :00)

    response = post(daraja, "/mpesa/stkpush/v1/processrequest", body)

    assert response.status_code == 500
    assert response.json()["errorCode"] == "500.001.1001"
    assert response.json()["errorMessage"] == "Wrong credentials"


def test_timestamp_in_utc_instead_of_kenyan_time_is_refused(daraja):
    stamp = datetime.now(tz=UTC).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"174379{SANDBOX_PASSKEY}{stamp}".encode()).decode()

    response = post(
        daraja, "/mpesa/stkpush/v1/processrequest", push_body(Timestamp=stamp, Password=password)
    )

    assert response.json()["errorMessage"] == "Bad Request - Invalid Timestamp"


def test_push_without_json_content_type_is_refused_as_daraja_does(daraja):
    bearer = token(daraja).json()["access_token"]

    response = requests.post(
        f"{daraja.base_url}/mpesa/stkpush/v1/processrequest",
        data=str(push_body()),
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["errorMessage"] == "Bad Request - Invalid BusinessShortCode"


def test_second_push_to_a_phone_with_one_in_progress_cannot_lock_the_subscriber(daraja):
    post(daraja, "/mpesa/stkpush/v1/processrequest", push_body())

    response = post(daraja, "/mpesa/stkpush/v1/processrequest", push_body())

    assert response.status_code == 500
    assert response.json()["errorMessage"].startswith("Unable to lock subscriber")


def test_the_subscriber_lock_can_be_turned_off():
    with DarajaSimulator(callback_delay=None, lock_subscriber=False) as sim:
        first = post(sim, "/mpesa/stkpush/v1/processrequest", push_body())
        second = post(sim, "/mpesa/stkpush/v1/processrequest", push_body())

    assert (first.status_code, second.status_code) == (200, 200)


def test_query_says_being_processed_then_the_result_and_the_callback_is_posted(daraja, receiver):
    url = f"{receiver.base_url}/stk"
    checkout = post(daraja, "/mpesa/stkpush/v1/processrequest", push_body(url)).json()[
        "CheckoutRequestID"
    ]

    pending = query(daraja, checkout)
    daraja.deliver_pending()
    final = query(daraja, checkout)

    assert pending.status_code == 500
    assert pending.json()["errorMessage"] == "The transaction is being processed"
    assert (final.status_code, final.json()["ResultCode"]) == (200, "0")
    [delivered] = receiver.at("/stk")
    stk = delivered.json["Body"]["stkCallback"]
    assert (stk["CheckoutRequestID"], stk["ResultCode"]) == (checkout, 0)
    items = stk["CallbackMetadata"]["Item"]
    assert {"Name": "Balance"} in items
    assert {"Name": "Amount", "Value": 100} in items
    receipt = next(i["Value"] for i in items if i["Name"] == "MpesaReceiptNumber")
    assert receipt == daraja.pushes[checkout].receipt
    assert daraja.sent[0].status == 200


def _push(daraja, receiver, outcome):
    daraja.script(outcome)
    body = push_body(f"{receiver.base_url}/stk")
    return post(daraja, "/mpesa/stkpush/v1/processrequest", body).json()["CheckoutRequestID"]


def test_scripted_failure_calls_back_without_metadata(daraja, receiver):
    checkout = _push(daraja, receiver, "fail:1032")
    daraja.deliver_pending()

    [delivered] = receiver.at("/stk")
    stk = delivered.json["Body"]["stkCallback"]
    assert stk["ResultCode"] == 1032
    assert "CallbackMetadata" not in stk
    assert query(daraja, checkout).json()["ResultCode"] == "1032"


def test_scripted_never_settles_without_calling_back(daraja, receiver):
    checkout = _push(daraja, receiver, "never")
    daraja.deliver_pending()

    assert receiver.at("/stk") == []
    assert query(daraja, checkout).json()["ResultCode"] == "0"


def test_scripted_twice_calls_back_twice_with_the_same_body(daraja, receiver):
    _push(daraja, receiver, "twice")
    daraja.deliver_pending()

    first, second = receiver.at("/stk")
    assert first.json == second.json


def test_scripted_amount_pays_a_different_amount(daraja, receiver):
    _push(daraja, receiver, "amount:60")
    daraja.deliver_pending()

    items = receiver.at("/stk")[0].json["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    assert {"Name": "Amount", "Value": 60} in items


def test_automatic_delivery_in_the_background(receiver):
    with DarajaSimulator(callback_delay=0) as sim:
        _push(sim, receiver, "success")
        sim.wait_idle()

    assert len(receiver.at("/stk")) == 1


def test_scripted_late_stays_pending_until_its_time_or_a_flush(receiver):
    with DarajaSimulator(callback_delay=0) as sim:
        checkout = _push(sim, receiver, "late:30")
        assert query(sim, checkout).status_code == 500
        sim.deliver_pending()

        assert query(sim, checkout).json()["ResultCode"] == "0"
    assert len(receiver.at("/stk")) == 1


@pytest.mark.parametrize("text", ["maybe", "fail", "late:soon", "success:1", "amount:"])
def test_unknown_scripts_are_refused(text):
    with pytest.raises(ValueError):
        Script.parse(text)


def test_runs_standalone_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "payments.simulators.daraja", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        response = requests.get(
            f"{url}/oauth/v1/generate?grant_type=client_credentials",
            auth=("sim-consumer-key", "sim-consumer-secret"),
            timeout=5,
        )
    finally:
        process.terminate()
        process.wait(5)

    assert line.startswith("daraja simulator listening on http://127.0.0.1:")
    assert response.status_code == 200
