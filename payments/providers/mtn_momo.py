"""MTN MoMo Collection: request-to-pay, callback, status (shared/protocols.md §g).

- X-Reference-Id is our intent reference (a UUID4 in hex) written as a UUID: a retried push
  reuses it, and MTN answers 409 to a reused one instead of charging twice.
- The amount travels as a string ("5000" for UGX, never "5000.0"); the payer as MSISDN digits
  in international form without "+" (MTN's API reference; the sandbox's test numbers are
  international too). payerMessage and payeeNote are never empty (empty ones made MTN answer 500).
- The sandbox (`target_environment="sandbox"`) takes EUR only: the amount is sent unchanged in
  EUR, and EUR amounts read back are taken as the intent's currency (status) or ignored
  (callback, which does not say which intent currency it stands for).
- The callback (PUT in the sandbox, POST live) has the status resource's shape and no
  signature: `trusted=False`, the services confirm with the status query. Its externalId (our
  reference) is the callback key.
"""

import hashlib
import json
import logging
import uuid
from decimal import Decimal
from typing import Any

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

TOKEN_EARLY_REFRESH = 60
SANDBOX = "sandbox"
SANDBOX_CURRENCY = "EUR"
MAX_NOTE = 160
STATUSES = {"SUCCESSFUL": Outcome.SUCCEEDED, "FAILED": Outcome.FAILED, "PENDING": Outcome.PENDING}
# MTN's failure reasons as the customer reads them; the outcome says why the intent ended.
REASONS: dict[str, tuple[Outcome, str]] = {
    "APPROVAL_REJECTED": (Outcome.CANCELLED, "You declined the payment."),
    "NOT_ENOUGH_FUNDS": (Outcome.FAILED, "Not enough money in your MoMo account."),
    "EXPIRED": (Outcome.EXPIRED, "You did not approve the payment in time."),
    "PAYER_NOT_FOUND": (Outcome.FAILED, "This number has no MoMo account."),
    "PAYER_LIMIT_REACHED": (Outcome.FAILED, "Your MoMo limit is reached."),
    "PAYER_DELAYED": (Outcome.FAILED, "MoMo could not complete the payment in time."),
    "NOT_ALLOWED": (Outcome.FAILED, "MoMo did not allow this payment."),
}
FAILED = (Outcome.FAILED, "The MoMo payment did not go through.")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def refusal(response: HttpResponse, action: str) -> ProviderError:
    """MTN's errors are {"code","message"} (or {"statusCode","message"} from the gateway)."""
    data = _dict(response.json)
    code = str(data.get("code") or data.get("statusCode") or f"http_{response.status}")
    message = str(data.get("message") or "").strip()
    return ProviderError(f"MTN refused the {action}: {code} {message}".strip(), code=code)


def reference_id(reference: str) -> str:
    """Our reference (a UUID in hex) in the UUID form X-Reference-Id takes."""
    try:
        return str(uuid.UUID(hex=reference))
    except ValueError as exc:
        raise ProviderError("the reference is not a UUID", code="reference") from exc


def wire_amount(amount: Money) -> str:
    """Major units as a string, without a fraction when there is none ("5000", "12.50")."""
    if amount.minor <= 0:
        raise ProviderError(f"MTN takes positive amounts, not {amount}", code="amount")
    major = amount.amount
    return str(int(major)) if major == major.to_integral_value() else str(major)


def _reason(data: dict) -> str:
    reason = data.get("reason")
    if isinstance(reason, dict):  # {"code": ..., "message": ...} in MTN's API reference
        reason = reason.get("code")
    return reason[:32] if isinstance(reason, str) else ""


def resource_verdict(data: dict, *, currency: str | None) -> Verdict:
    """The status resource (also the callback body) as a verdict; raises ValueError when its
    status or amount cannot be read. `currency` None: the amount is not read."""
    status = data.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise ValueError("status is not SUCCESSFUL, FAILED or PENDING")
    if STATUSES[status] == Outcome.PENDING:
        return Verdict(Outcome.PENDING)
    if STATUSES[status] == Outcome.FAILED:
        code = _reason(data)
        outcome, message = REASONS.get(code, FAILED)
        return Verdict(outcome, failure_code=code or "FAILED", failure_message=message)
    amount = None
    if currency is not None and data.get("amount") is not None:
        try:
            amount = Money.of(Decimal(str(data["amount"])), currency)
        except (ArithmeticError, TypeError) as exc:
            raise ValueError("amount is not a number") from exc
        if amount.minor <= 0:
            raise ValueError("amount is not positive")
    receipt = data.get("financialTransactionId") or ""
    if isinstance(receipt, bool) or not isinstance(receipt, str | int) or len(str(receipt)) > 64:
        raise ValueError("financialTransactionId is not a short id")
    return Verdict(Outcome.SUCCEEDED, receipt=str(receipt), amount=amount)


class MtnMomoProvider:
    name = "mtn"

    def __init__(
        self,
        *,
        base_url: str,
        api_user: str,
        api_key: str,
        subscription_key: str,
        target_environment: str,
        callback_token: str,
        allowed_ips: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_user = api_user
        self._api_key = api_key
        self._subscription_key = subscription_key
        self.target_environment = target_environment
        self.callback_token = callback_token
        self.allowed_ips = tuple(allowed_ips)
        digest = hashlib.sha256(f"{self.base_url} {api_user}".encode()).hexdigest()[:16]
        self.token_cache_key = f"payments:mtn:token:{digest}"

    def __repr__(self) -> str:
        env = self.target_environment
        return f"MtnMomoProvider(base_url={self.base_url!r}, target_environment={env!r})"

    @property
    def sandbox(self) -> bool:
        return self.target_environment == SANDBOX

    # --- OAuth -------------------------------------------------------------------------------
    def access_token(self) -> str:
        token = cache.get(self.token_cache_key)
        if token:
            return token
        response = http_request(
            "POST",
            f"{self.base_url}/collection/token/",
            idempotent=True,
            auth=(self.api_user, self._api_key),
            headers={"Ocp-Apim-Subscription-Key": self._subscription_key},
        )
        data = _dict(response.json)
        if not response.ok or not data.get("access_token"):
            raise refusal(response, "token request")
        try:
            expires_in = int(str(data.get("expires_in", 3600)).strip())
        except ValueError:
            expires_in = 3600
        token = str(data["access_token"])
        cache.set(self.token_cache_key, token, timeout=max(expires_in - TOKEN_EARLY_REFRESH, 1))
        return token

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> HttpResponse:
        """With the token, subscription key and target environment. A 401 (token revoked or
        expired early) fetches a new token and sends once more: MTN did nothing with the call."""
        response = self._call_once(method, path, idempotent=idempotent, **kwargs)
        if response.status == 401:
            cache.delete(self.token_cache_key)
            response = self._call_once(method, path, idempotent=idempotent, **kwargs)
        return response

    def _call_once(
        self, method: str, path: str, *, idempotent: bool, headers: dict | None = None, **kwargs
    ) -> HttpResponse:
        headers = {
            "Authorization": f"Bearer {self.access_token()}",
            "Ocp-Apim-Subscription-Key": self._subscription_key,
            "X-Target-Environment": self.target_environment,
            **(headers or {}),
        }
        url = f"{self.base_url}{path}"
        return http_request(method, url, idempotent=idempotent, headers=headers, **kwargs)

    # --- request to pay ----------------------------------------------------------------------
    def push_start(self, request: PushRequest) -> PushStarted:
        """Sent once by us; a 409 means this very X-Reference-Id was already accepted (an
        earlier attempt whose answer was lost), which is a started push too."""
        xref = reference_id(request.reference)
        note = f"Account {request.account_number}"[:MAX_NOTE]
        payload = {
            "amount": wire_amount(request.amount),
            "currency": SANDBOX_CURRENCY if self.sandbox else request.amount.currency,
            "externalId": request.reference,
            "payer": {"partyIdType": "MSISDN", "partyId": request.phone.removeprefix("+")},
            "payerMessage": (request.description.strip() or note)[:MAX_NOTE],
            "payeeNote": note,
        }
        headers = {"X-Reference-Id": xref, "X-Callback-Url": request.callback_url}
        path = "/collection/v1_0/requesttopay"
        response = self._call("POST", path, idempotent=False, json=payload, headers=headers)
        if response.status not in (202, 409):
            error = refusal(response, "request to pay")
            logger.warning(
                "mtn push refused", extra={"intent": request.reference, "code": error.code}
            )
            raise error
        logger.info("mtn push started", extra={"intent": request.reference, "reference_id": xref})
        return PushStarted(
            provider_reference=xref,
            callback_key=request.reference,
            provider_data={"reference_id": xref},
            customer_message=f"Approve the payment of {request.amount} with your MoMo PIN.",
        )

    def status_query(
        self, *, provider_reference: str, provider_data: dict[str, Any], amount: Money
    ) -> Verdict:
        """GET requesttopay/{X-Reference-Id}: the authority on the payment."""
        path = f"/collection/v1_0/requesttopay/{provider_reference}"
        response = self._call("GET", path, idempotent=True)
        data = _dict(response.json)
        if response.status != 200:
            raise refusal(response, "status query")
        currency = data.get("currency")
        if self.sandbox and currency == SANDBOX_CURRENCY:
            currency = amount.currency
        try:
            verdict = resource_verdict(data, currency=currency)
        except ValueError as exc:
            raise ProviderError(f"MTN status unreadable: {exc}", code="unreadable") from exc
        log = {"reference_id": provider_reference, "outcome": str(verdict.outcome)}
        logger.info("mtn status query", extra=log)
        return verdict

    # --- callbacks ---------------------------------------------------------------------------
    def callback_parse(self, callback: InboundCallback) -> CallbackEvent:
        """kind "callback", PUT or POST; never trusted (MTN signs nothing)."""
        if callback.kind != "callback":
            raise CallbackRejected(f"unknown MTN callback kind {callback.kind!r}", status=404)
        if callback.method not in ("POST", "PUT"):
            raise CallbackRejected(f"MTN calls back with PUT or POST, not {callback.method}")
        try:
            data = json.loads(callback.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CallbackRejected("callback is not JSON") from exc
        if not isinstance(data, dict):
            raise CallbackRejected("callback is not a JSON object")
        external_id = data.get("externalId")
        if not isinstance(external_id, str) or not 0 < len(external_id) <= 100:
            raise CallbackRejected("callback has no externalId")
        currency = data.get("currency")
        if self.sandbox and currency == SANDBOX_CURRENCY:
            currency = None  # EUR stands in for the intent's currency: not an amount we can use
        try:
            verdict = resource_verdict(data, currency=currency)
        except ValueError as exc:
            raise CallbackRejected(f"callback unreadable: {exc}") from exc
        receipt = verdict.receipt
        return CallbackEvent(
            event_key=receipt or f"{external_id}:{data['status']}",
            callback_key=external_id,
            verdict=verdict,
            trusted=False,
        )

    def callback_ack(self, event: CallbackEvent | None, *, accepted: bool) -> Acknowledgement:
        if not accepted:
            return Acknowledgement(400, {"status": "rejected"})
        return Acknowledgement(200, {"status": "accepted"})
