"""Airtel Money Open API: collection (USSD push), callback, transaction enquiry (protocols.md §f).

Our intent reference is the `transaction.id` of the push: Airtel's callback and enquiry carry it
back, so it is both the provider reference and the callback key.

Callback authentication: when the merchant enables it in the Airtel app, Airtel adds a top-level
`hash` = Base64(HMAC-SHA256(private key, payload)). Airtel's docs do not say exactly which bytes
"payload" is; we take the `transaction` object as sent, serialized as compact JSON with its keys
in the order received (what JavaScript's JSON.stringify(transaction) gives, which is what the
open-source integrations hash). With `callback_private_key` set, a callback without a hash or with
a wrong one is refused (403); a verified one is `trusted`. Because the construction is our
reading of an ambiguous doc, the services may still confirm with the enquiry API; without a key
every callback is a hint (`trusted=False`).

Airtel refuses some requests inside an HTTP 200 (`status.success` false, with result_code and
response_code): those become ProviderError with that code. The OAuth token (its `expires_in` is a
string) is cached in the Django cache and fetched again on a 401.
"""

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

import phonenumbers
from django.core.cache import cache

from billing.money import Money
from payments.providers.base import (
    Acknowledgement,
    CallbackEvent,
    CallbackRejected,
    InboundCallback,
    Outcome,
    ProviderError,
    PushRequest,
    PushStarted,
    Verdict,
)
from payments.providers.http import HttpResponse, http_request

logger = logging.getLogger(__name__)

TOKEN_EARLY_REFRESH = 30  # seconds; Airtel's tokens may live only 180 s
MAX_REFERENCE = 64
FINAL_STATUSES = {"TS", "TF"}
PENDING_STATUSES = {"TA", "TIP", "TI"}  # ambiguous, in progress, initiated
FAILED_MESSAGE = "The Airtel Money payment did not go through."


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def refusal(response: HttpResponse, action: str) -> ProviderError:
    """Airtel's status block {"code","message","result_code","response_code","success"}."""
    status = _dict(_dict(response.json).get("status"))
    result_code = str(status.get("result_code") or "")
    response_code = str(status.get("response_code") or "")
    code = result_code or response_code or f"http_{response.status}"
    detail = " ".join(filter(None, [result_code, response_code, str(status.get("message") or "")]))
    return ProviderError(f"Airtel refused the {action}: {detail or response.status}", code=code)


def _succeeded(response: HttpResponse) -> bool:
    return response.ok and _dict(_dict(response.json).get("status")).get("success") is True


def callback_hash(private_key: str, transaction: dict) -> str:
    """Base64(HMAC-SHA256(private key, compact JSON of the transaction object, key order kept))."""
    payload = json.dumps(transaction, separators=(",", ":"), ensure_ascii=False)
    digest = hmac.new(private_key.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _verdict(status: str, airtel_money_id: str) -> Verdict:
    if status == "TS":
        return Verdict(Outcome.SUCCEEDED, receipt=airtel_money_id)
    if status == "TF":
        return Verdict(Outcome.FAILED, failure_code="TF", failure_message=FAILED_MESSAGE)
    return Verdict(Outcome.PENDING)


def callback_event(body: bytes, *, private_key: str = "") -> CallbackEvent:
    """Read {"transaction":{"id","message","status_code","airtel_money_id"}} (+ "hash").

    Malformed -> 400; with a private key, a missing or wrong hash -> 403. A final callback (TS,
    TF) is keyed on transaction.id; an intermediate one on id:status, so it cannot shadow the
    final one.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRejected("callback is not JSON") from exc
    transaction = data.get("transaction") if isinstance(data, dict) else None
    if not isinstance(transaction, dict):
        raise CallbackRejected("callback has no transaction object")
    transaction_id, status = transaction.get("id"), transaction.get("status_code")
    receipt = transaction.get("airtel_money_id") or ""
    if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= 100:
        raise CallbackRejected("callback transaction.id is missing")
    if not isinstance(status, str) or status not in FINAL_STATUSES | PENDING_STATUSES:
        raise CallbackRejected("callback status_code is not TS, TF, TA, TIP or TI")
    if not isinstance(receipt, str) or len(receipt) > 64:
        raise CallbackRejected("callback airtel_money_id is not a short string")
    trusted = False
    if private_key:
        sent = data.get("hash")
        if not isinstance(sent, str) or not sent:
            raise CallbackRejected("callback hash is missing", status=403)
        expected = callback_hash(private_key, transaction)
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CallbackRejected("callback hash does not match", status=403)
        trusted = True
    return CallbackEvent(
        event_key=transaction_id if status in FINAL_STATUSES else f"{transaction_id}:{status}",
        callback_key=transaction_id,
        verdict=_verdict(status, receipt),
        trusted=trusted,
    )


def enquiry_verdict(response: HttpResponse) -> Verdict:
    """TS success, TF failed; TA (ambiguous), TIP, TI and anything unknown stay pending."""
    transaction = _dict(_dict(_dict(response.json).get("data")).get("transaction"))
    if not _succeeded(response) or not transaction:
        raise refusal(response, "transaction enquiry")
    status = str(transaction.get("status") or "")
    return _verdict(status, str(transaction.get("airtel_money_id") or ""))


class AirtelMoneyProvider:
    name = "airtel"

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        country: str,
        currency: str,
        callback_token: str,
        callback_private_key: str = "",
        allowed_ips: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.country = country.upper()
        self.currency = currency.upper()
        self.callback_token = callback_token
        self._callback_private_key = callback_private_key
        self.allowed_ips = tuple(allowed_ips)
        digest = hashlib.sha256(f"{self.base_url} {client_id}".encode()).hexdigest()[:16]
        self.token_cache_key = f"payments:airtel:token:{digest}"

    def __repr__(self) -> str:
        return f"AirtelMoneyProvider(base_url={self.base_url!r}, country={self.country!r})"

    # --- OAuth -------------------------------------------------------------------------------
    def access_token(self) -> str:
        token = cache.get(self.token_cache_key)
        if token:
            return token
        payload = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        response = http_request(
            "POST", f"{self.base_url}/auth/oauth2/token", idempotent=True, json=payload
        )
        data = _dict(response.json)
        if not response.ok or not data.get("access_token"):
            raise refusal(response, "OAuth token request")
        try:  # a string in the docs ("180")
            expires_in = int(str(data.get("expires_in", 180)).strip())
        except ValueError:
            expires_in = 180
        token = str(data["access_token"])
        cache.set(self.token_cache_key, token, timeout=max(expires_in - TOKEN_EARLY_REFRESH, 1))
        return token

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> HttpResponse:
        """With the bearer token and X-Country/X-Currency; a 401 fetches a new token and sends
        once more (Airtel did nothing with the refused call)."""
        response = self._call_once(method, path, idempotent=idempotent, **kwargs)
        if response.status == 401:
            cache.delete(self.token_cache_key)
            response = self._call_once(method, path, idempotent=idempotent, **kwargs)
        return response

    def _call_once(self, method: str, path: str, *, idempotent: bool, **kwargs) -> HttpResponse:
        headers = {
            "Authorization": f"Bearer {self.access_token()}",
            "Accept": "*/*",
            "X-Country": self.country,
            "X-Currency": self.currency,
        }
        url = f"{self.base_url}{path}"
        return http_request(method, url, idempotent=idempotent, headers=headers, **kwargs)

    # --- collection --------------------------------------------------------------------------
    def msisdn(self, phone: str) -> str:
        """The national number Airtel wants (no country code, no trunk 0) of an E.164 phone."""
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException as exc:
            raise ProviderError("not an international phone number", code="invalid_phone") from exc
        if phonenumbers.region_code_for_number(number) != self.country:
            raise ProviderError(f"Airtel {self.country} pays from a local number", code="phone")
        return phonenumbers.national_significant_number(number)

    def wire_amount(self, amount: Money) -> int:
        if amount.currency != self.currency:
            raise ProviderError(
                f"Airtel takes {self.currency}, not {amount.currency}", code="currency"
            )
        major = amount.amount
        if amount.minor <= 0 or major != major.to_integral_value():
            raise ProviderError(f"Airtel takes whole amounts only, not {amount}", code="amount")
        return int(major)

    def push_start(self, request: PushRequest) -> PushStarted:
        """Sent once, never retried: after a timeout only the enquiry can tell whether the
        prompt went out (a second push with the same id is refused as ESB000041)."""
        payload = {
            "reference": (request.description or request.account_number)[:MAX_REFERENCE],
            "subscriber": {
                "country": self.country,
                "currency": self.currency,
                "msisdn": self.msisdn(request.phone),
            },
            "transaction": {
                "amount": self.wire_amount(request.amount),
                "country": self.country,
                "currency": self.currency,
                "id": request.reference,
            },
        }
        response = self._call("POST", "/merchant/v1/payments/", idempotent=False, json=payload)
        if not _succeeded(response):
            error = refusal(response, "collection")
            logger.warning(
                "airtel push refused", extra={"intent": request.reference, "code": error.code}
            )
            raise error
        logger.info("airtel push started", extra={"intent": request.reference})
        return PushStarted(
            provider_reference=request.reference,
            callback_key=request.reference,
            customer_message=f"Enter your Airtel Money PIN on your phone to pay {request.amount}.",
        )

    def status_query(
        self, *, provider_reference: str, provider_data: dict[str, Any], amount: Money
    ) -> Verdict:
        """GET /standard/v1/payments/{id}: the authority on the payment."""
        response = self._call("GET", f"/standard/v1/payments/{provider_reference}", idempotent=True)
        verdict = enquiry_verdict(response)
        log = {"intent": provider_reference, "outcome": str(verdict.outcome)}
        logger.info("airtel enquiry", extra=log)
        return verdict

    # --- callbacks ---------------------------------------------------------------------------
    def callback_parse(self, callback: InboundCallback) -> CallbackEvent:
        """kind "callback": the POST to the URL set in the Airtel app."""
        if callback.kind != "callback":
            raise CallbackRejected(f"unknown Airtel callback kind {callback.kind!r}", status=404)
        return callback_event(callback.body, private_key=self._callback_private_key)

    def callback_ack(self, event: CallbackEvent | None, *, accepted: bool) -> Acknowledgement:
        if not accepted:
            return Acknowledgement(400, {"status": "rejected"})
        return Acknowledgement(200, {"status": "accepted"})
