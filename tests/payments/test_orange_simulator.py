"""The Orange Money simulator holds us to Orange's rules, and runs on its own."""

import subprocess
import sys

import pytest
import requests
from django.conf import settings

from payments.simulators.orange import CLIENT_ID, CLIENT_SECRET, OrangeSimulator


@pytest.fixture
def sim():
    with OrangeSimulator(currency="XOF", callback_delay=None) as server:
        yield server


def bearer(sim: OrangeSimulator) -> dict:
    answer = requests.post(
        f"{sim.base_url}/oauth/v3/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def init_body(**changes) -> dict:
    body = {
        "merchant_key": "ad8b9717",
        "currency": "OUV",
        "order_id": "ORDER-1",
        "amount": 1500,
        "return_url": "https://billing.example.com/",
        "cancel_url": "https://billing.example.com/",
        "notif_url": "http://127.0.0.1:9/notify/",
        "lang": "fr",
        "reference": "Malipo",
    }
    return {**body, **changes}


def init(sim, body, headers=None):
    url = f"{sim.base_url}/orange-money-webpay/dev/v1/webpayment"
    return requests.post(url, json=body, headers=headers or bearer(sim), timeout=5)


def test_token_request_with_a_json_body_is_refused_like_orange_does(sim):
    answer = requests.post(
        f"{sim.base_url}/oauth/v3/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        json={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert answer.status_code == 400


def test_token_request_with_wrong_credentials_is_refused(sim):
    answer = requests.post(
        f"{sim.base_url}/oauth/v3/token",
        auth=(CLIENT_ID, "guess"),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 1500.5},
        {"amount": "1500"},
        {"currency": "XOF"},  # dev takes OUV only
        {"order_id": "O" * 31},
        {"reference": "R" * 31},
        {"notif_url": "https://billing.example.com/" + "n" * 100},
        {"merchant_key": "other"},
    ],
)
def test_init_breaking_a_documented_rule_is_refused(sim, changes):
    answer = init(sim, init_body(**changes))
    assert answer.status_code == 400
    assert sim.payments == {}


def test_init_without_a_valid_token_answers_401(sim):
    assert init(sim, init_body(), headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_reused_order_id_is_refused(sim):
    assert init(sim, init_body()).status_code == 201
    assert init(sim, init_body()).status_code == 400


def test_status_stays_initiated_until_a_late_payment_lands(sim):
    sim.script("late:30")
    created = init(sim, init_body()).json()
    query = {"order_id": "ORDER-1", "amount": 1500, "pay_token": created["pay_token"]}
    url = f"{sim.base_url}/orange-money-webpay/dev/v1/transactionstatus"
    headers = bearer(sim)
    assert requests.post(url, json=query, headers=headers, timeout=5).json()["status"] == (
        "INITIATED"
    )
    sim.deliver_pending()
    answer = requests.post(url, json=query, headers=headers, timeout=5)
    assert answer.status_code == 201
    assert answer.json()["status"] == "SUCCESS" and answer.json()["txnid"].startswith("MP")
    wrong_amount = {**query, "amount": 1400}
    assert requests.post(url, json=wrong_amount, headers=headers, timeout=5).status_code == 400


def test_simulator_runs_standalone_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "payments.simulators.orange", "--port", "0"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        base_url = line.rsplit(" ", 1)[-1].strip()
        assert line.startswith("orange simulator listening on http://127.0.0.1:")
        answer = requests.post(f"{base_url}/oauth/v3/token", data={}, timeout=5)
        assert answer.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
