"""A local fake of Orange Money Web Payment (protocols.md §e), scriptable per payment.

- `POST /oauth/v3/token`: Basic client_id:client_secret, form body grant_type=client_credentials
  (a JSON body is refused, as Orange does).
- `POST /orange-money-webpay/{country}/v1/webpayment`: checks the merchant key, the currency
  (OUV on `dev`), an integer amount, order_id and reference of at most 30 characters, URLs of at
  most 120; answers with pay_token, payment_url and notif_token.
- The customer "pays" `callback_delay` seconds later, as scripted: the notification
  {"status","notif_token","txnid"} is POSTed to notif_url (only for SUCCESS or FAILED, as Orange
  does). `fail:EXPIRED` expires the payment without a notification; `never` pays without one.
- `POST .../transactionstatus` {order_id, amount, pay_token}: INITIATED until the outcome, then
  SUCCESS, FAILED or EXPIRED. WebPay carries no amount in the notification or the status, so
  `amount:<value>` pays (and records) another amount that the wire cannot show.

Run one: `python -m payments.simulators.orange --port 9002`.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

from payments.simulators.base import Reply, Request, Script, SimulatorServer

# The simulator's own fake credentials (a real deploy points at the operator instead).
CLIENT_ID = "orange-client"
CLIENT_SECRET = "orange-secret"  # noqa: S105

WEBPAY = r"/orange-money-webpay/(?P<country>[a-z]{2,3})/v1"


@dataclass
class OrangePayment:
    order_id: str
    amount: int
    currency: str
    notif_url: str
    pay_token: str
    notif_token: str
    script: Script
    status: str = "INITIATED"
    txnid: str = ""
    paid: Decimal | None = None


def _error(status: int, code: int, message: str, description: str) -> Reply:
    return Reply(status, {"code": code, "message": message, "description": description})


class OrangeSimulator(SimulatorServer):
    name = "orange"
    routes = [
        ("POST", r"/oauth/v3/token", "token"),
        ("POST", WEBPAY + r"/webpayment", "webpayment"),
        ("POST", WEBPAY + r"/transactionstatus", "transaction_status"),
        ("GET", r"/payment/pay_token/(?P<pay_token>\w+)", "payment_page"),
    ]

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        merchant_key: str = "ad8b9717",
        currency: str = "XOF",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.client_id = client_id
        self.client_secret = client_secret
        self.merchant_key = merchant_key
        self.currency = currency
        self.payments: dict[str, OrangePayment] = {}  # by pay_token
        self.tokens: set[str] = set()

    @classmethod
    def add_arguments(cls, parser) -> None:
        parser.add_argument("--client-id", default=CLIENT_ID)
        parser.add_argument("--client-secret", default=CLIENT_SECRET)
        parser.add_argument("--merchant-key", default="ad8b9717")
        parser.add_argument("--currency", default="XOF", help="live currency (dev uses OUV)")

    def expire_tokens(self) -> None:
        """Forget every access token issued: the next call with one answers 401."""
        with self._lock:
            self.tokens.clear()

    # --- handlers ----------------------------------------------------------------------------
    def token(self, request: Request) -> Reply:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _error(401, 42, "Invalid credentials", "Basic authorization is invalid")
        content_type = request.headers.get("Content-Type", "")
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if "x-www-form-urlencoded" not in content_type or form.get("grant_type") != [
            "client_credentials"
        ]:
            return Reply(400, {"error": "invalid_request", "error_description": "bad grant"})
        access_token = secrets.token_hex(16)
        with self._lock:
            self.tokens.add(access_token)
        return Reply(
            200, {"token_type": "Bearer", "access_token": access_token, "expires_in": 7776000}
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            return scheme == "Bearer" and token in self.tokens

    def _invalid_init(self, country: str, body: object) -> str:
        """What is wrong with a webpayment request ("" when nothing)."""
        if not isinstance(body, dict):
            return "body must be a JSON object"
        currency = "OUV" if country == "dev" else self.currency
        amount = body.get("amount")
        checks = [
            (body.get("merchant_key") == self.merchant_key, "unknown merchant_key"),
            (body.get("currency") == currency, f"currency must be {currency}"),
            (isinstance(amount, int) and not isinstance(amount, bool), "amount: integer"),
            (isinstance(amount, int) and amount > 0, "amount must be positive"),
            (body.get("lang") in ("fr", "en"), "lang must be fr or en"),
        ]
        for key in ("order_id", "reference"):
            value = body.get(key)
            checks.append((isinstance(value, str) and 0 < len(value) <= 30, f"{key}: 1-30 chars"))
        for key in ("return_url", "cancel_url", "notif_url"):
            value = body.get(key)
            ok = isinstance(value, str) and value.startswith("http") and len(value) <= 120
            checks.append((ok, f"{key}: http(s) URL of at most 120 chars"))
        return next((message for ok, message in checks if not ok), "")

    def webpayment(self, request: Request, country: str) -> Reply:
        if not self._authorized(request):
            return _error(401, 42, "Expired credentials", "The access token is invalid")
        problem = self._invalid_init(country, request.json)
        if problem:
            return _error(400, 1, "Bad request", problem)
        body = request.json
        with self._lock:
            if any(p.order_id == body["order_id"] for p in self.payments.values()):
                return _error(400, 1, "Bad request", "order_id already used")
            payment = OrangePayment(
                order_id=body["order_id"],
                amount=body["amount"],
                currency=body["currency"],
                notif_url=body["notif_url"],
                pay_token=secrets.token_hex(32),
                notif_token=secrets.token_hex(16),
                script=self.next_script(),
            )
            self.payments[payment.pay_token] = payment
        self._play(payment)
        return Reply(
            201,
            {
                "status": 201,
                "message": "OK",
                "pay_token": payment.pay_token,
                "payment_url": f"{self.base_url}/payment/pay_token/{payment.pay_token}",
                "notif_token": payment.notif_token,
            },
        )

    def transaction_status(self, request: Request, country: str) -> Reply:
        if not self._authorized(request):
            return _error(401, 42, "Expired credentials", "The access token is invalid")
        body = request.json if isinstance(request.json, dict) else {}
        with self._lock:
            payment = self.payments.get(body.get("pay_token", ""))
        if payment is None or body.get("order_id") != payment.order_id:
            return _error(404, 404, "Not found", "no payment for this pay_token and order_id")
        if body.get("amount") != payment.amount:
            return _error(400, 1, "Bad request", "amount does not match the payment")
        answer = {"status": payment.status, "order_id": payment.order_id}
        if payment.txnid:
            answer["txnid"] = payment.txnid
        return Reply(201, answer)

    def payment_page(self, request: Request, pay_token: str) -> Reply:
        with self._lock:
            payment = self.payments.get(pay_token)
        if payment is None:
            return Reply(404, "Unknown payment")
        return Reply(200, f"Orange Money simulator: order {payment.order_id}: {payment.status}")

    # --- the customer's side -----------------------------------------------------------------
    def _play(self, payment: OrangePayment) -> None:
        script = payment.script
        delay = {} if script.kind != "late" else {"delay": script.seconds}
        self.schedule(lambda: self._settle(payment), **delay)

    def _settle(self, payment: OrangePayment) -> None:
        script = payment.script
        with self._lock:
            if script.kind == "fail":
                payment.status = "EXPIRED" if script.code == "EXPIRED" else "FAILED"
            else:
                payment.status = "SUCCESS"
                payment.paid = script.amount if script.kind == "amount" else Decimal(payment.amount)
            payment.txnid = _txnid() if payment.status != "EXPIRED" else ""
        if payment.status == "EXPIRED" or script.kind == "never":
            return
        notification = {
            "status": payment.status,
            "notif_token": payment.notif_token,
            "txnid": payment.txnid,
        }
        for _ in range(2 if script.kind == "twice" else 1):
            self.send("POST", payment.notif_url, notification)


def _txnid() -> str:
    now = datetime.now(UTC)
    return f"MP{now:%y%m%d}.{now:%H%M}.A{secrets.randbelow(100000):05d}"


if __name__ == "__main__":
    OrangeSimulator.main()
