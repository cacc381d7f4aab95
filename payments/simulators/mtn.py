"""A local fake of MTN MoMo Collection (protocols.md §g), scriptable per request-to-pay.

- `POST /collection/token/`: Basic api_user:api_key plus Ocp-Apim-Subscription-Key.
- `POST /collection/v1_0/requesttopay`: checks the bearer token, the subscription key,
  X-Target-Environment, a UUID4 X-Reference-Id (a reused one answers 409), an amount sent as a
  string (no fraction for zero-decimal currencies; EUR only in `sandbox`, like MTN's sandbox),
  payer MSISDN digits and a non-empty payerMessage/payeeNote (empty ones answer 500, as MTN did
  in production); answers 202 with an empty body.
- The outcome comes `callback_delay` seconds later: the status resource is sent to X-Callback-Url
  with PUT in `sandbox` and POST otherwise (`fail:<reason>` gives FAILED with that reason).
- `GET /collection/v1_0/requesttopay/{X-Reference-Id}`: PENDING until the outcome.

Run one: `python -m payments.simulators.mtn --port 9004 [--target-environment mtnuganda]`.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal

from billing.money import CURRENCY_EXPONENTS
from payments.simulators.base import Reply, Request, Script, SimulatorServer

AMOUNT = re.compile(r"\d+(\.\d+)?")


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message})


@dataclass
class MomoRequest:
    reference_id: str
    body: dict
    callback_url: str
    script: Script
    status: str = "PENDING"
    financial_transaction_id: str = ""
    reason: str = ""
    paid: str = ""

    def resource(self) -> dict:
        resource = {
            "externalId": self.body["externalId"],
            "amount": self.paid or self.body["amount"],
            "currency": self.body["currency"],
            "payer": self.body["payer"],
            "payerMessage": self.body["payerMessage"],
            "payeeNote": self.body["payeeNote"],
            "status": self.status,
        }
        if self.financial_transaction_id:
            resource = {"financialTransactionId": self.financial_transaction_id, **resource}
        if self.reason:
            resource["reason"] = self.reason
        return resource


class MtnSimulator(SimulatorServer):
    name = "mtn"
    routes = [
        ("POST", r"/collection/token/", "token"),
        ("POST", r"/collection/v1_0/requesttopay", "request_to_pay"),
        ("GET", r"/collection/v1_0/requesttopay/(?P<reference_id>[^/]+)", "status"),
    ]

    def __init__(
        self,
        *,
        api_user: str = "6f7a2a8e-7c5e-4f5a-9f0a-5d2b1c3e4f5a",
        api_key: str = "mtn-api-key",
        subscription_key: str = "mtn-subscription-key",
        target_environment: str = "sandbox",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.api_user = api_user
        self.api_key = api_key
        self.subscription_key = subscription_key
        self.target_environment = target_environment
        self.transfers: dict[str, MomoRequest] = {}  # by X-Reference-Id
        self.tokens: set[str] = set()

    @classmethod
    def add_arguments(cls, parser) -> None:
        parser.add_argument("--api-user", default="6f7a2a8e-7c5e-4f5a-9f0a-5d2b1c3e4f5a")
        parser.add_argument("--api-key", default="mtn-api-key")
        parser.add_argument("--subscription-key", default="mtn-subscription-key")
        parser.add_argument("--target-environment", default="sandbox")

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # --- handlers ----------------------------------------------------------------------------
    def token(self, request: Request) -> Reply:
        basic = base64.b64encode(f"{self.api_user}:{self.api_key}".encode()).decode()
        if request.headers.get("Ocp-Apim-Subscription-Key") != self.subscription_key:
            return Reply(401, {"statusCode": 401, "message": "Invalid subscription key."})
        if request.headers.get("Authorization") != f"Basic {basic}":
            return Reply(401, {"error": "login_failed", "error_description": "Access denied"})
        access_token = secrets.token_hex(16)
        with self._lock:
            self.tokens.add(access_token)
        return Reply(
            200, {"access_token": access_token, "token_type": "access_token", "expires_in": 3600}
        )

    def _refusal(self, request: Request) -> Reply | None:
        """Checks every call shares: subscription key, bearer token, target environment."""
        if request.headers.get("Ocp-Apim-Subscription-Key") != self.subscription_key:
            return Reply(401, {"statusCode": 401, "message": "Invalid subscription key."})
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self._lock:
            if scheme != "Bearer" or token not in self.tokens:
                return Reply(401, {"statusCode": 401, "message": "Access token expired."})
        if request.headers.get("X-Target-Environment") != self.target_environment:
            return _error(403, "NOT_ALLOWED_TARGET_ENVIRONMENT", "Access to target env forbidden")
        return None

    def _invalid_body(self, body: object) -> str:
        if not isinstance(body, dict):
            return "body must be a JSON object"
        currency, amount, payer = body.get("currency"), body.get("amount"), body.get("payer")
        if self.target_environment == "sandbox" and currency != "EUR":
            return "currency must be EUR in the sandbox"
        if currency not in CURRENCY_EXPONENTS:
            return "unsupported currency"
        if not isinstance(amount, str) or not AMOUNT.fullmatch(amount) or not Decimal(amount):
            return "amount must be a positive decimal string"
        if CURRENCY_EXPONENTS[currency] == 0 and "." in amount:
            return f"{currency} amounts have no fraction"
        if not isinstance(body.get("externalId"), str) or not body["externalId"]:
            return "externalId is required"
        party = payer.get("partyId") if isinstance(payer, dict) else None
        if payer is None or payer.get("partyIdType") != "MSISDN":
            return "payer.partyIdType must be MSISDN"
        if not isinstance(party, str) or not party.isdigit() or not 8 <= len(party) <= 15:
            return "payer.partyId must be MSISDN digits"
        return ""

    def request_to_pay(self, request: Request) -> Reply:
        refusal = self._refusal(request)
        if refusal:
            return refusal
        reference_id = request.headers.get("X-Reference-Id", "")
        try:
            valid_reference = uuid.UUID(reference_id).version == 4
        except ValueError:
            valid_reference = False
        if not valid_reference:
            return _error(400, "INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID4")
        callback_url = request.headers.get("X-Callback-Url", "")
        if callback_url and not callback_url.startswith(("http://", "https://")):
            return _error(400, "INVALID_CALLBACK_URL_HOST", "Callback URL is not valid")
        problem = self._invalid_body(request.json)
        if problem:
            return _error(400, "BAD_REQUEST", problem)
        body = request.json
        if not all(isinstance(body.get(k), str) and body[k] for k in ("payerMessage", "payeeNote")):
            return _error(500, "INTERNAL_PROCESSING_ERROR", "An internal error occurred.")
        with self._lock:
            if reference_id in self.transfers:
                return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id.")
            transfer = MomoRequest(reference_id, body, callback_url, self.next_script())
            self.transfers[reference_id] = transfer
        delay = {"delay": transfer.script.seconds} if transfer.script.kind == "late" else {}
        self.schedule(lambda: self._settle(transfer), **delay)
        return Reply(202, "")

    def status(self, request: Request, reference_id: str) -> Reply:
        refusal = self._refusal(request)
        if refusal:
            return refusal
        with self._lock:
            transfer = self.transfers.get(reference_id)
            if transfer is None:
                return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
            return Reply(200, transfer.resource())

    # --- the payer's side --------------------------------------------------------------------
    def _settle(self, transfer: MomoRequest) -> None:
        script = transfer.script
        with self._lock:
            if script.kind == "fail":
                transfer.status, transfer.reason = "FAILED", script.code
            else:
                transfer.status = "SUCCESSFUL"
                transfer.financial_transaction_id = str(secrets.randbelow(9 * 10**9) + 10**9)
                transfer.paid = str(script.amount) if script.kind == "amount" else ""
            resource = transfer.resource()
        if script.kind == "never" or not transfer.callback_url:
            return
        method = "PUT" if self.target_environment == "sandbox" else "POST"
        for _ in range(2 if script.kind == "twice" else 1):
            self.send(method, transfer.callback_url, resource)


if __name__ == "__main__":
    MtnSimulator.main()
