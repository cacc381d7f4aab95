"""A local fake of Safaricom Daraja (shared/protocols.md §d), strict where Daraja is.

    python -m payments.simulators.daraja --port 9001

Endpoints: GET /oauth/v1/generate (Basic auth; each new token invalidates the previous one;
expires_in sent as a string, like live), POST /mpesa/stkpush/v1/processrequest,
/mpesa/stkpushquery/v1/query, /mpesa/c2b/v1/registerurl, /mpesa/c2b/v1/simulate,
/mpesa/transactionstatus/v1/query.

An STK push is checked field by field and refused with Daraja's errors: 400.002.02 "Bad Request -
Invalid <Field>" (also for a missing JSON Content-Type), 404.001.03 for a bad token, 500.001.1001
"Wrong credentials" when Password is not base64(shortcode + passkey + Timestamp), "Unable to lock
subscriber" while the same phone has a push in progress (unless lock_subscriber=False).

Each accepted push is kept in `.pushes` (CheckoutRequestID -> Push); the customer "answers" after
`callback_delay` seconds, as scripted with `.script(...)`: success, fail:<ResultCode>, never
(settles, no callback), twice (callback sent twice), late:<seconds>, amount:<KES> (pays that
instead). Until then STK query answers HTTP 500 "The transaction is being processed"; afterwards
ResultCode as a string.

Paybill: `.simulate_paybill(bill_ref, amount, msisdn)` POSTs the validation (when enabled) then,
unless refused, the confirmation to the registered URLs, with the MSISDN SHA-256-hashed as live.
Transaction Status POSTs a Result to ResultURL: Completed for a receipt it issued, else R000002.
"""

import base64
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from payments.simulators.base import Reply, Request, Script, SimulatorServer
from payments.simulators.daraja_c2b import (
    NAIROBI,
    Paybill,
    PaybillMixin,
    is_url,
    now_stamp,
    random_id,
    receipt_new,
)

SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
PHONE = re.compile(r"254[17]\d{8}")
RESULT_DESCS = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    1019: "Transaction has expired",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
}


def _number(amount: Decimal) -> int:
    """A JSON number, as Daraja writes amounts in callbacks: whole shillings only (Daraja takes
    no fractions, so neither does a scripted amount)."""
    if amount != amount.to_integral_value():
        raise ValueError(f"Daraja amounts are whole shillings, not {amount}")
    return int(amount)


@dataclass
class Push:
    checkout_request_id: str
    merchant_request_id: str
    request: dict[str, Any]  # the STK push body as we received it
    script: Script
    result_code: int | str | None = None  # None while the customer has not answered
    receipt: str = ""
    paid: Decimal | None = None


class DarajaSimulator(PaybillMixin, SimulatorServer):
    name = "daraja"
    routes = [
        ("GET", r"/oauth/v1/generate", "oauth"),
        ("POST", r"/mpesa/stkpush/v1/processrequest", "stk_push"),
        ("POST", r"/mpesa/stkpushquery/v1/query", "stk_query"),
        ("POST", r"/mpesa/c2b/v1/registerurl", "c2b_register"),
        ("POST", r"/mpesa/c2b/v1/simulate", "c2b_simulate"),
        ("POST", r"/mpesa/transactionstatus/v1/query", "transaction_status"),
    ]

    def __init__(
        self,
        *,
        consumer_key: str = "sim-consumer-key",
        consumer_secret: str = "sim-consumer-secret",  # noqa: S107 - the fake's own
        shortcode: str = SANDBOX_SHORTCODE,
        passkey: str = SANDBOX_PASSKEY,
        initiator: str = "testapi",
        token_ttl: int = 3599,
        timestamp_tolerance: float | None = 600,
        c2b_validation: bool = True,
        lock_subscriber: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.shortcode, self.passkey, self.initiator = str(shortcode), passkey, initiator
        self.token_ttl = token_ttl
        self.timestamp_tolerance = timestamp_tolerance  # seconds from Nairobi time; None: off
        self.c2b_validation = c2b_validation
        self.lock_subscriber = lock_subscriber  # refuse a push to a phone with one pending
        self.pushes: dict[str, Push] = {}
        self.paybills: dict[str, Paybill] = {}
        self.c2b_urls: dict[str, str] = {}  # ResponseType, ValidationURL, ConfirmationURL
        self._token: tuple[str, float] | None = None

    @classmethod
    def add_arguments(cls, parser) -> None:
        parser.add_argument("--consumer-key", default="sim-consumer-key")
        parser.add_argument("--consumer-secret", default="sim-consumer-secret")
        parser.add_argument("--shortcode", default=SANDBOX_SHORTCODE)
        parser.add_argument("--passkey", default=SANDBOX_PASSKEY)

    @property
    def oauth_calls(self) -> int:
        return sum(1 for r in self.requests if r.path.startswith("/oauth/v1/generate"))

    # --- errors and checks -------------------------------------------------------------------
    @staticmethod
    def error(status: int, code: str, message: str) -> Reply:
        return Reply(
            status, {"requestId": random_id("sim-", 8), "errorCode": code, "errorMessage": message}
        )

    def _refusal(self, request: Request) -> Reply | None:
        """What Daraja says before reading the body: JSON content type, then the token."""
        if "application/json" not in request.headers.get("Content-Type", ""):
            return self.error(400, "400.002.02", "Bad Request - Invalid BusinessShortCode")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self._token is None or token != self._token[0] or time.time() > self._token[1]:
            return self.error(404, "404.001.03", "Invalid Access Token")
        if not isinstance(request.json, dict):
            return self.error(400, "400.002.02", "Bad Request - Invalid JSON")
        return None

    def _invalid(self, body: dict, checks: dict[str, Any]) -> Reply | None:
        for name, valid in checks.items():
            if not valid(body.get(name)):
                return self.error(400, "400.002.02", f"Bad Request - Invalid {name}")
        return None

    def _timestamp_ok(self, value: Any) -> bool:
        if not isinstance(value, str) or not re.fullmatch(r"\d{14}", value):
            return False
        try:
            moment = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
        except ValueError:
            return False
        skew = abs((moment - datetime.now(tz=NAIROBI)).total_seconds())
        return self.timestamp_tolerance is None or skew <= self.timestamp_tolerance

    def _credential_checks(self) -> dict[str, Any]:
        return {
            "BusinessShortCode": lambda v: str(v) == self.shortcode,
            "Timestamp": self._timestamp_ok,
        }

    def _password_ok(self, body: dict) -> bool:
        raw = f"{self.shortcode}{self.passkey}{body['Timestamp']}".encode()
        return body.get("Password") == base64.b64encode(raw).decode()

    # --- OAuth -------------------------------------------------------------------------------
    def oauth(self, request: Request) -> Reply:
        if request.query.get("grant_type") != "client_credentials":
            return self.error(400, "400.008.02", "Invalid grant type passed")
        basic = f"{self.consumer_key}:{self.consumer_secret}".encode()
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(basic).decode():
            return self.error(400, "400.008.01", "Invalid Authentication passed")
        token = secrets.token_urlsafe(21)
        self._token = (token, time.time() + self.token_ttl)
        return Reply(200, {"access_token": token, "expires_in": str(self.token_ttl)})

    # --- STK ---------------------------------------------------------------------------------
    def stk_push(self, request: Request) -> Reply:
        if refusal := self._refusal(request):
            return refusal
        body = request.json
        paybill = body.get("TransactionType") == "CustomerPayBillOnline"
        checks = {
            **self._credential_checks(),
            "TransactionType": lambda v: v in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"),
            "Amount": lambda v: (
                (type(v) is int and v >= 1) or (isinstance(v, str) and v.isdigit() and int(v) >= 1)
            ),
            "PartyA": lambda v: bool(PHONE.fullmatch(str(v))),
            "PartyB": lambda v: str(v) == self.shortcode if paybill else str(v).isdigit(),
            "PhoneNumber": lambda v: bool(PHONE.fullmatch(str(v))),
            "CallBackURL": is_url,
            "AccountReference": lambda v: isinstance(v, str) and 0 < len(v) <= 12,
            "TransactionDesc": lambda v: v is None or (isinstance(v, str) and len(v) <= 13),
        }
        if invalid := self._invalid(body, checks):
            return invalid
        if not self._password_ok(body):
            return self.error(500, "500.001.1001", "Wrong credentials")
        with self._lock:
            if self.lock_subscriber and any(
                p.result_code is None and p.request["PhoneNumber"] == body["PhoneNumber"]
                for p in self.pushes.values()
            ):
                return self.error(
                    500,
                    "500.001.1001",
                    "Unable to lock subscriber, a transaction is already "
                    "in process for the current subscriber",
                )
            push = Push(
                random_id("ws_CO_" + now_stamp()),
                random_id("sim-", 6) + "-1",
                body,
                self.next_script(),
            )
            self.pushes[push.checkout_request_id] = push
        if push.script.kind == "late" and self.callback_delay is not None:
            self.schedule(lambda: self._settle(push), delay=push.script.seconds)
        else:
            self.schedule(lambda: self._settle(push))
        message = "Success. Request accepted for processing"
        return Reply(
            200,
            {
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": push.checkout_request_id,
                "ResponseCode": "0",
                "ResponseDescription": message,
                "CustomerMessage": message,
            },
        )

    def _settle(self, push: Push) -> None:
        """The customer answered: fix the result, then call back as scripted."""
        script = push.script
        with self._lock:
            if script.kind == "fail":
                push.result_code = int(script.code) if script.code.isdigit() else script.code
            else:
                push.result_code, push.receipt = 0, receipt_new()
                push.paid = script.amount or Decimal(str(push.request["Amount"]))
        if script.kind == "never":
            return
        for _ in range(2 if script.kind == "twice" else 1):
            self.send("POST", push.request["CallBackURL"], self.stk_callback_body(push))

    def stk_callback_body(self, push: Push) -> dict[str, Any]:
        callback: dict[str, Any] = {
            "MerchantRequestID": push.merchant_request_id,
            "CheckoutRequestID": push.checkout_request_id,
            "ResultCode": push.result_code,
            "ResultDesc": RESULT_DESCS.get(push.result_code, "The transaction failed."),
        }
        if push.result_code == 0:
            callback["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": _number(push.paid)},
                    {"Name": "MpesaReceiptNumber", "Value": push.receipt},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": int(now_stamp())},
                    {"Name": "PhoneNumber", "Value": int(push.request["PhoneNumber"])},
                ]
            }
        return {"Body": {"stkCallback": callback}}

    def stk_query(self, request: Request) -> Reply:
        if refusal := self._refusal(request):
            return refusal
        body = request.json
        if invalid := self._invalid(body, self._credential_checks()):
            return invalid
        if not self._password_ok(body):
            return self.error(500, "500.001.1001", "Wrong credentials")
        push = self.pushes.get(str(body.get("CheckoutRequestID")))
        if push is None:
            return self.error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
        if push.result_code is None:
            return self.error(500, "500.001.1001", "The transaction is being processed")
        return Reply(
            200,
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": push.checkout_request_id,
                "ResultCode": str(push.result_code),
                "ResultDesc": RESULT_DESCS.get(push.result_code, "The transaction failed."),
            },
        )


if __name__ == "__main__":
    DarajaSimulator.main()
