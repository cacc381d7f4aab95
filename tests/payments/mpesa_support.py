"""Helpers shared by the M-Pesa tests: Daraja fixtures, our side of the wire (Receiver), an
adapter pointed at the fake Daraja, and raw Daraja calls for the simulator's own tests."""

import base64
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from django.conf import settings

from billing.money import Money
from payments.providers.base import InboundCallback, PushRequest
from payments.providers.mpesa import MpesaExpressProvider
from payments.simulators.base import Reply, SimulatorServer
from payments.simulators.daraja import SANDBOX_PASSKEY

FIXTURES = Path(settings.BASE_DIR).parent / "shared" / "fixtures"
NAIROBI = ZoneInfo("Africa/Nairobi")
SECRET = "sim-consumer-secret"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def raw(name: str) -> bytes:
    """The body as the operator sent it: the verbatim text when the fixture has one."""
    data = fixture(name)
    return (data.get("raw_body") or json.dumps(data["payload"])).encode()


VECTOR = fixture("mpesa_stk_password_vector")["payload"]


def inbound(kind: str, body: bytes) -> InboundCallback:
    return InboundCallback(kind, "POST", {"Content-Type": "application/json"}, body, "1.2.3.4")


class Receiver(SimulatorServer):
    """Our side of the wire, for tests: keeps what the operator POSTs (raw bytes included) and
    answers `answers[path]` (default: the STK acknowledgement)."""

    name = "receiver"
    routes = [("POST", r"/.*", "receive"), ("PUT", r"/.*", "receive")]

    def __init__(self, **options):
        super().__init__(**options)
        self.answers: dict[str, object] = {}
        self.received = []

    def receive(self, request):
        self.received.append(request)
        return Reply(200, self.answers.get(request.path, {"ResultCode": 0, "ResultDesc": "OK"}))

    def at(self, path):
        return [r for r in self.received if r.path == path]


def provider_for(sim, **changes):
    options = {
        "base_url": sim.base_url,
        "consumer_key": "sim-consumer-key",
        "consumer_secret": SECRET,
        "shortcode": "174379",
        "passkey": VECTOR["Passkey"],
        "callback_token": "tok",
        "initiator": "testapi",
        "security_credential": "encrypted-credential",
    }
    return MpesaExpressProvider(**{**options, **changes})


def push(provider, phone="+254708374149", amount="1200", callback_url="http://127.0.0.1:9/cb"):
    return provider.push_start(
        PushRequest(
            reference="a" * 32,
            phone=phone,
            amount=Money.of(amount, "KES"),
            account_number="100000011",
            description="Water bill for November",
            callback_url=callback_url,
        )
    )


def token(sim, key="sim-consumer-key", secret="sim-consumer-secret"):
    response = requests.get(
        f"{sim.base_url}/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        auth=(key, secret),
        timeout=5,
    )
    return response


def post(sim, path, body, bearer=None, **kwargs):
    bearer = bearer or token(sim).json()["access_token"]
    headers = {"Authorization": f"Bearer {bearer}"}
    return requests.post(f"{sim.base_url}{path}", json=body, headers=headers, timeout=5, **kwargs)


def push_body(callback_url="http://127.0.0.1:9/cb", **changes):
    stamp = datetime.now(tz=NAIROBI).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"174379{SANDBOX_PASSKEY}{stamp}".encode()).decode()
    body = {
        "BusinessShortCode": "174379",
        "Password": password,
        "Timestamp": stamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 100,
        "PartyA": "254708374149",
        "PartyB": "174379",
        "PhoneNumber": "254708374149",
        "CallBackURL": callback_url,
        "AccountReference": "100000011",
        "TransactionDesc": "Water bill",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def query(sim, checkout):
    stamp = datetime.now(tz=NAIROBI).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"174379{SANDBOX_PASSKEY}{stamp}".encode()).decode()
    body = {
        "BusinessShortCode": "174379",
        "Password": password,
        "Timestamp": stamp,
        "CheckoutRequestID": checkout,
    }
    return post(sim, "/mpesa/stkpushquery/v1/query", body)


def offline_provider() -> MpesaExpressProvider:
    """An adapter that only parses (its base_url leads nowhere)."""
    return MpesaExpressProvider(
        base_url="http://127.0.0.1:9",
        consumer_key="key",
        consumer_secret="secret",
        shortcode="174379",
        passkey="passkey",
        callback_token="token",
    )


def received_events(mpesa, receiver, path="/stk", kind="stk"):
    """What the operator POSTed to `receiver` at `path`, read by the adapter as `kind`."""
    return [
        mpesa.callback_parse(InboundCallback(kind, "POST", r.headers, r.body, "127.0.0.1"))
        for r in receiver.at(path)
    ]
