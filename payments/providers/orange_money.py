"""Orange Money Web Payment: init, notification, transaction status (shared/protocols.md §e).

The customer pays on Orange's payment page (`payment_url`, with an OTP from #144#...): there is
no PIN prompt pushed to the phone, so the push's `customer_message` carries the link.

Authenticity: Orange signs nothing. The init answer carries a `notif_token` that only Orange and
we know; it becomes the intent's `callback_key` and is never put in `provider_data` or in logs.
A notification whose notif_token matches no intent finds nothing, and one that matches is still
only a hint: `callback_parse` returns `trusted=False`, so the services confirm it with
`status_query` (transactionstatus) before crediting.

The OAuth token (Basic client_id:client_secret, form grant_type=client_credentials) is cached in
the Django cache until a minute before it expires, and fetched again when Orange answers 401.
"""

import hashlib
import json
import logging
from typing import Any

from django.conf import settings
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

TOKEN_EARLY_REFRESH = 60  # seconds before its expiry when a cached token is dropped
SANDBOX_COUNTRY = "dev"
SANDBOX_CURRENCY = "OUV"  # Orange's test currency, used instead of the real one on `dev`
MAX_ORDER_ID = 30
MAX_REFERENCE = 30
MAX_URL = 120
NOTIFICATION_STATUSES = {"SUCCESS": Outcome.SUCCEEDED, "FAILED": Outcome.FAILED}
STATUS_OUTCOMES = {
    "INITIATED": Outcome.PENDING,  # waiting for the customer
    "PENDING": Outcome.PENDING,  # the customer confirmed, in progress
    "EXPIRED": Outcome.EXPIRED,
    "SUCCESS": Outcome.SUCCEEDED,
    "FAILED": Outcome.FAILED,
}
FAILED_MESSAGE = "The Orange Money payment did not go through."
EXPIRED_MESSAGE = "The Orange Money payment link expired."


def _data(response: HttpResponse) -> dict:
    return response.json if isinstance(response.json, dict) else {}


def _refusal(response: HttpResponse, action: str) -> ProviderError:
    """Orange's errors are {"code", "message", "description"}; none of it is secret."""
    data = _data(response)
    code = str(data.get("code") or f"http_{response.status}")
    message = str(data.get("message") or "").strip()
    return ProviderError(f"Orange refused the {action}: {code} {message}".strip(), code=code)


def wire_amount(amount: Money) -> int:
    """Orange takes an integer amount of major units (XOF/XAF have no minor unit anyway)."""
    major = amount.amount
    if major != major.to_integral_value() or amount.minor <= 0:
        raise ProviderError(f"Orange takes whole amounts only, not {amount}", code="amount")
    return int(major)


def notification_event(body: bytes) -> CallbackEvent:
    """Read a notification {"status","notif_token","txnid"}; malformed -> 400.

    event_key is the txnid; a notification without one (a failure may lack it) is keyed on a
    digest of its notif_token, so the secret itself is never used as a key that could be logged.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRejected("notification is not JSON") from exc
    if not isinstance(data, dict):
        raise CallbackRejected("notification is not a JSON object")
    status, notif_token, txnid = data.get("status"), data.get("notif_token"), data.get("txnid")
    if not isinstance(status, str) or status not in NOTIFICATION_STATUSES:
        raise CallbackRejected("notification status is not SUCCESS or FAILED")
    if not isinstance(notif_token, str) or not 0 < len(notif_token) <= 100:
        raise CallbackRejected("notification has no notif_token")
    if txnid is None:
        txnid = ""
    if not isinstance(txnid, str) or len(txnid) > 64:
        raise CallbackRejected("notification txnid is not a short string")
    if NOTIFICATION_STATUSES[status] == Outcome.SUCCEEDED:
        verdict = Verdict(Outcome.SUCCEEDED, receipt=txnid)
    else:
        verdict = Verdict(Outcome.FAILED, failure_code=status, failure_message=FAILED_MESSAGE)
    digest = hashlib.sha256(notif_token.encode()).hexdigest()[:40]
    return CallbackEvent(
        event_key=txnid or f"notif:{digest}",
        callback_key=notif_token,
        verdict=verdict,
        trusted=False,
    )


def status_verdict(response: HttpResponse) -> Verdict:
    """transactionstatus: INITIATED/PENDING stay pending; SUCCESS carries the txnid."""
    data = _data(response)
    status = data.get("status")
    if not response.ok or not isinstance(status, str) or status not in STATUS_OUTCOMES:
        raise _refusal(response, "transaction status query")
    outcome = STATUS_OUTCOMES[status]
    if outcome == Outcome.SUCCEEDED:
        return Verdict(outcome, receipt=str(data.get("txnid") or ""))
    if outcome == Outcome.FAILED:
        return Verdict(outcome, failure_code=status, failure_message=FAILED_MESSAGE)
    if outcome == Outcome.EXPIRED:
        return Verdict(outcome, failure_code=status, failure_message=EXPIRED_MESSAGE)
    return Verdict(outcome)


class OrangeWebPayProvider:
    name = "orange"

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        merchant_key: str,
        country: str,
        callback_token: str,
        currency: str = "",
        lang: str = "fr",
        return_url: str = "",
        cancel_url: str = "",
        allowed_ips: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._merchant_key = merchant_key
        self.country = country.lower()
        self.currency = currency.upper()
        self.lang = lang
        self.callback_token = callback_token
        self.return_url = return_url or f"{settings.PUBLIC_BASE_URL.rstrip('/')}/"
        self.cancel_url = cancel_url or self.return_url
        self.allowed_ips = tuple(allowed_ips)
        digest = hashlib.sha256(f"{self.base_url} {client_id}".encode()).hexdigest()[:16]
        self.token_cache_key = f"payments:orange:token:{digest}"

    def __repr__(self) -> str:
        return f"OrangeWebPayProvider(base_url={self.base_url!r}, country={self.country!r})"

    @property
    def _webpay(self) -> str:
        return f"{self.base_url}/orange-money-webpay/{self.country}/v1"

    # --- OAuth -------------------------------------------------------------------------------
    def access_token(self) -> str:
        token = cache.get(self.token_cache_key)
        if token:
            return token
        response = http_request(
            "POST",
            f"{self.base_url}/oauth/v3/token",
            idempotent=True,
            auth=(self.client_id, self._client_secret),
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
        data = _data(response)
        if not response.ok or not data.get("access_token"):
            raise _refusal(response, "OAuth token request")
        try:
            expires_in = int(str(data.get("expires_in", 3600)).strip())
        except ValueError:
            expires_in = 3600
        token = str(data["access_token"])
        cache.set(self.token_cache_key, token, timeout=max(expires_in - TOKEN_EARLY_REFRESH, 1))
        return token

    def _post(self, url: str, payload: dict, *, idempotent: bool) -> HttpResponse:
        """POST with the bearer token. A 401 (token revoked or expired early) fetches a new token
        and sends once more: Orange did nothing with the refused call."""
        response = self._post_once(url, payload, idempotent=idempotent)
        if response.status == 401:
            cache.delete(self.token_cache_key)
            response = self._post_once(url, payload, idempotent=idempotent)
        return response

    def _post_once(self, url: str, payload: dict, *, idempotent: bool) -> HttpResponse:
        headers = {"Authorization": f"Bearer {self.access_token()}", "Accept": "application/json"}
        return http_request("POST", url, idempotent=idempotent, json=payload, headers=headers)

    # --- the payment -------------------------------------------------------------------------
    def _wire_currency(self, amount: Money) -> str:
        if self.country == SANDBOX_COUNTRY:
            return SANDBOX_CURRENCY
        if self.currency and amount.currency != self.currency:
            raise ProviderError(
                f"this Orange offer takes {self.currency}, not {amount.currency}", code="currency"
            )
        return amount.currency

    def push_start(self, request: PushRequest) -> PushStarted:
        """Create the web payment. Nothing is charged until the customer pays on the page, so a
        timeout here leaves at most an unused payment link."""
        urls = {
            "return_url": self.return_url,
            "cancel_url": self.cancel_url,
            "notif_url": request.callback_url,
        }
        for key, url in urls.items():
            if len(url) > MAX_URL:
                raise ProviderError(f"Orange {key} is over {MAX_URL} characters", code="url")
        order_id = request.reference[:MAX_ORDER_ID]
        payload = {
            "merchant_key": self._merchant_key,
            "currency": self._wire_currency(request.amount),
            "order_id": order_id,
            "amount": wire_amount(request.amount),
            **urls,
            "lang": self.lang,
            "reference": (request.description or request.account_number)[:MAX_REFERENCE],
        }
        response = self._post(f"{self._webpay}/webpayment", payload, idempotent=False)
        data = _data(response)
        if not (response.ok and data.get("pay_token") and data.get("notif_token")):
            error = _refusal(response, "web payment")
            logger.warning("orange push refused", extra={"intent": request.reference})
            raise error
        pay_token, payment_url = str(data["pay_token"]), str(data.get("payment_url") or "")
        logger.info("orange push started", extra={"intent": request.reference})
        return PushStarted(
            provider_reference=pay_token,
            callback_key=str(data["notif_token"]),
            provider_data={
                "pay_token": pay_token,
                "payment_url": payment_url,
                "order_id": order_id,
            },
            customer_message=f"Pay {request.amount} with Orange Money here: {payment_url}",
        )

    def status_query(
        self, *, provider_reference: str, provider_data: dict[str, Any], amount: Money
    ) -> Verdict:
        """transactionstatus {order_id, amount, pay_token}: the authority on the payment."""
        payload = {
            "order_id": provider_data.get("order_id", ""),
            "amount": wire_amount(amount),
            "pay_token": provider_data.get("pay_token") or provider_reference,
        }
        response = self._post(f"{self._webpay}/transactionstatus", payload, idempotent=True)
        verdict = status_verdict(response)
        log = {"order_id": payload["order_id"], "outcome": str(verdict.outcome)}
        logger.info("orange status query", extra=log)
        return verdict

    # --- notifications -----------------------------------------------------------------------
    def callback_parse(self, callback: InboundCallback) -> CallbackEvent:
        """kind "notify": the notification POSTed to notif_url. Never trusted by itself."""
        if callback.kind != "notify":
            raise CallbackRejected(f"unknown Orange callback kind {callback.kind!r}", status=404)
        return notification_event(callback.body)

    def callback_ack(self, event: CallbackEvent | None, *, accepted: bool) -> Acknowledgement:
        """Orange only needs a 200; a refused notification gets a 400."""
        if not accepted:
            return Acknowledgement(400, {"status": "rejected"})
        return Acknowledgement(200, {"status": "accepted"})
