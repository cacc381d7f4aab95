"""A local fake of the Airtel Money Open API collection flow (protocols.md §f), scriptable.

- `POST /auth/oauth2/token` (JSON client_id, client_secret, grant_type) -> expires_in as a string.
- `POST /merchant/v1/payments/`: checks the bearer token, X-Country/X-Currency, a national msisdn
  (no country code), a whole amount for zero-decimal currencies and a fresh transaction.id.
  Refusals come back as HTTP 200 with status.success false, as Airtel does (ESB000008 field
  validation, ESB000033 msisdn, ESB000034 country, ESB000035 currency, ESB000041 duplicate id).
- The callback goes to the URL configured "in the app settings" (`callback_url` here: Airtel
  does not take it per request) `callback_delay` seconds later:
  {"transaction":{"id","message","status_code":"TS"|"TF","airtel_money_id"}}, plus a top-level
  "hash" when a `private_key` is configured (see `callback_hash`).
- `GET /standard/v1/payments/{id}`: TIP until the outcome, then TS or TF.

Run one: `python -m payments.simulators.airtel --port 9003 --callback-url URL`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import phonenumbers

from billing.money import CURRENCY_EXPONENTS
from payments.simulators.base import Reply, Request, Script, SimulatorServer

# The simulator's own fake credentials (a real deploy points at the operator instead).
CLIENT_ID = "airtel-client"
CLIENT_SECRET = "airtel-secret"  # noqa: S105


def callback_hash(private_key: str, transaction: dict) -> str:
    """Base64(HMAC-SHA256(private key, compact JSON of the transaction object, key order kept)).

    The same construction as payments.providers.airtel_money (see there for why this payload).
    """
    payload = json.dumps(transaction, separators=(",", ":"), ensure_ascii=False)
    digest = hmac.new(private_key.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _status(success: bool, result_code: str, message: str, response_code: str = "") -> dict:
    block = {"code": "200", "message": message, "result_code": result_code, "success": success}
    if response_code:
        block["response_code"] = response_code
    return block


def _refused(result_code: str, message: str) -> Reply:
    return Reply(200, {"data": {}, "status": _status(False, result_code, message)})


@dataclass
class AirtelPayment:
    id: str
    amount: Decimal
    currency: str
    script: Script
    status: str = "TIP"
    airtel_money_id: str = ""
    message: str = "In process"


class AirtelSimulator(SimulatorServer):
    name = "airtel"
    routes = [
        ("POST", r"/auth/oauth2/token", "token"),
        ("POST", r"/merchant/v1/payments/", "collect"),
        ("GET", r"/standard/v1/payments/(?P<transaction_id>[^/]+)", "enquiry"),
    ]

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        country: str = "UG",
        currency: str = "UGX",
        callback_url: str = "",
        private_key: str = "",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.client_id = client_id
        self.client_secret = client_secret
        self.country = country
        self.currency = currency
        self.callback_url = callback_url
        self.private_key = private_key
        self.payments: dict[str, AirtelPayment] = {}
        self.tokens: set[str] = set()

    @classmethod
    def add_arguments(cls, parser) -> None:
        parser.add_argument("--client-id", default=CLIENT_ID)
        parser.add_argument("--client-secret", default=CLIENT_SECRET)
        parser.add_argument("--country", default="UG")
        parser.add_argument("--currency", default="UGX")
        parser.add_argument("--callback-url", default="", help="as set in the Airtel app")
        parser.add_argument("--private-key", default="", help="enables callback authentication")

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # --- handlers ----------------------------------------------------------------------------
    def token(self, request: Request) -> Reply:
        body = request.json if isinstance(request.json, dict) else {}
        if (body.get("client_id"), body.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ) or body.get("grant_type") != "client_credentials":
            return Reply(401, {"error": "invalid_client", "error_description": "bad credentials"})
        access_token = secrets.token_hex(16)
        with self._lock:
            self.tokens.add(access_token)
        return Reply(
            200, {"access_token": access_token, "expires_in": "180", "token_type": "bearer"}
        )

    def _unauthorized(self, request: Request) -> Reply | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            if scheme.lower() == "bearer" and token in self.tokens:
                return None
        return Reply(401, {"error": "invalid_token", "error_description": "token expired"})

    def _bad_headers(self, request: Request) -> Reply | None:
        if request.headers.get("X-Country") != self.country:
            return _refused("ESB000034", "Invalid Country")
        if request.headers.get("X-Currency") != self.currency:
            return _refused("ESB000035", "Invalid Currency")
        return None

    def _bad_msisdn(self, msisdn: object) -> bool:
        if not isinstance(msisdn, str) or not msisdn.isdigit() or msisdn.startswith("0"):
            return True
        try:
            number = phonenumbers.parse(msisdn, self.country)
        except phonenumbers.NumberParseException:
            return True
        national = phonenumbers.national_significant_number(number)
        return national != msisdn or not phonenumbers.is_valid_number(number)

    def _bad_body(self, body: object) -> Reply | None:
        if not isinstance(body, dict):
            return _refused("ESB000008", "Field validation: body")
        subscriber, transaction = body.get("subscriber"), body.get("transaction")
        if not isinstance(subscriber, dict) or not isinstance(transaction, dict):
            return _refused("ESB000008", "Field validation: subscriber, transaction")
        if self._bad_msisdn(subscriber.get("msisdn")):
            return _refused("ESB000033", "Invalid MSISDN Length. MSISDN without country code")
        for part in (subscriber, transaction):
            if part.get("country") != self.country:
                return _refused("ESB000034", "Invalid Country")
            if part.get("currency") != self.currency:
                return _refused("ESB000035", "Invalid Currency")
        amount = transaction.get("amount")
        whole = CURRENCY_EXPONENTS.get(self.currency, 2) == 0
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or amount <= 0
            or (whole and not isinstance(amount, int))
        ):
            return _refused("ESB000008", "Field validation: transaction.amount")
        reference, transaction_id = body.get("reference"), transaction.get("id")
        if not isinstance(reference, str) or not reference or len(reference) > 64:
            return _refused("ESB000008", "Field validation: reference")
        if not isinstance(transaction_id, str) or not transaction_id:
            return _refused("ESB000008", "Field validation: transaction.id")
        return None

    def collect(self, request: Request) -> Reply:
        refusal = (
            self._unauthorized(request)
            or self._bad_headers(request)
            or self._bad_body(request.json)
        )
        if refusal:
            return refusal
        transaction = request.json["transaction"]
        with self._lock:
            if transaction["id"] in self.payments:
                return _refused("ESB000041", "External Transaction ID already exists")
            payment = AirtelPayment(
                id=transaction["id"],
                amount=Decimal(str(transaction["amount"])),
                currency=self.currency,
                script=self.next_script(),
            )
            self.payments[payment.id] = payment
        self._play(payment)
        return Reply(
            200,
            {
                "data": {"transaction": {"id": False, "status": "SUCCESS"}},
                "status": _status(True, "ESB000010", "SUCCESS", "DP00800001006"),
            },
        )

    def enquiry(self, request: Request, transaction_id: str) -> Reply:
        refusal = self._unauthorized(request) or self._bad_headers(request)
        if refusal:
            return refusal
        with self._lock:
            payment = self.payments.get(transaction_id)
            if payment is None:
                return _refused("ESB000045", "No Transaction Found With Provided Transaction Id")
            transaction = {
                "airtel_money_id": payment.airtel_money_id,
                "id": payment.id,
                "message": payment.message,
                "status": payment.status,
            }
        status = _status(True, "ESB000010", "SUCCESS", "DP00800001006")
        return Reply(200, {"data": {"transaction": transaction}, "status": status})

    # --- the customer's side -----------------------------------------------------------------
    def _play(self, payment: AirtelPayment) -> None:
        delay = {"delay": payment.script.seconds} if payment.script.kind == "late" else {}
        self.schedule(lambda: self._settle(payment), **delay)

    def _settle(self, payment: AirtelPayment) -> None:
        script = payment.script
        now = datetime.now(UTC)
        with self._lock:
            payment.airtel_money_id = f"MP{now:%y%m%d}.{now:%H%M}.L{secrets.randbelow(10**5):05d}"
            if script.kind == "fail":
                payment.status = "TF"
                payment.message = f"Transaction failed ({script.code})"
            else:
                paid = script.amount if script.kind == "amount" else payment.amount
                payment.status = "TS"
                payment.message = (
                    f"Paid {payment.currency} {paid:,} to MALIPO SIMULATOR Charge "
                    f"{payment.currency} 0, Trans ID {payment.airtel_money_id}."
                )
        if script.kind == "never" or not self.callback_url:
            return
        transaction = {
            "id": payment.id,
            "message": payment.message,
            "status_code": payment.status,
            "airtel_money_id": payment.airtel_money_id,
        }
        body: dict = {"transaction": transaction}
        if self.private_key:
            body["hash"] = callback_hash(self.private_key, transaction)
        for _ in range(2 if script.kind == "twice" else 1):
            self.send("POST", self.callback_url, body)


if __name__ == "__main__":
    AirtelSimulator.main()
