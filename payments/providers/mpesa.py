"""Safaricom M-Pesa Daraja: STK push (M-Pesa Express), STK query, STK callbacks, C2B paybill
(register URLs, validation, confirmation) and Transaction Status. See shared/protocols.md §d;
the wire format itself is in mpesa_wire.py.

Daraja signs nothing: an STK callback or a C2B confirmation is a hint (`trusted=False`), to be
confirmed with a query before crediting. The OAuth token lives in the Django cache (shared by
every process: each new token invalidates the previous one). Logs carry our intent reference
and the CheckoutRequestID only; the passkey, consumer secret, token and Password never do.
"""

import hashlib
import logging
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.cache import cache

from billing.money import Money
from payments.providers import mpesa_wire as wire
from payments.providers.base import (
    Acknowledgement,
    CallbackEvent,
    CallbackRejected,
    InboundCallback,
    ProviderError,
    PushRequest,
    PushStarted,
    Verdict,
)
from payments.providers.http import HttpResponse, http_request

logger = logging.getLogger(__name__)

TOKEN_EARLY_REFRESH = 60  # seconds before its expiry when a cached token is dropped
_PHONE = re.compile(r"254[17]\d{8}")


def _error_code_answer(response: HttpResponse) -> bool:
    """A 5xx carrying Daraja's JSON error is an answer to read, not an outage."""
    return "errorCode" in _data(response)


def _data(response: HttpResponse) -> dict:
    return response.json if isinstance(response.json, dict) else {}


def _answer_unless_busy(response: HttpResponse) -> bool:
    """For queries: a 5xx that says "busy" (spike arrest, quota) is retried; "being processed"
    and permanent refusals are answers."""
    code = _data(response).get("errorCode")
    return code == wire.IN_PROGRESS or (
        code is not None and not wire.error_from(response, "").transient
    )


class MpesaExpressProvider:
    name = "mpesa"

    def __init__(
        self,
        *,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        callback_token: str,
        transaction_type: str = "CustomerPayBillOnline",
        party_b: str = "",
        initiator: str = "",
        security_credential: str = "",
        allowed_ips: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self.shortcode = str(shortcode)
        self._passkey = passkey
        self.callback_token = callback_token
        self.transaction_type = transaction_type
        self.party_b = str(party_b or shortcode)  # a till number for CustomerBuyGoodsOnline
        self.initiator = initiator
        self._security_credential = security_credential
        self.allowed_ips = tuple(allowed_ips)
        digest = hashlib.sha256(consumer_key.encode()).hexdigest()[:16]
        self.token_cache_key = f"payments:mpesa:token:{digest}"

    def __repr__(self) -> str:
        return f"MpesaExpressProvider(base_url={self.base_url!r}, shortcode={self.shortcode!r})"

    # --- OAuth -------------------------------------------------------------------------------
    def access_token(self) -> str:
        """The cached OAuth token, fetched when missing; kept until a minute before expiry."""
        token = cache.get(self.token_cache_key)
        if token:
            return token
        response = http_request(
            "GET",
            f"{self.base_url}/oauth/v1/generate",
            idempotent=True,
            params={"grant_type": "client_credentials"},
            auth=(self.consumer_key, self._consumer_secret),
        )
        data = _data(response)
        if not response.ok or not data.get("access_token"):
            raise wire.error_from(response, "OAuth token request")
        try:  # documented as a number, sent live as a string ("3599")
            expires_in = int(Decimal(str(data.get("expires_in", 3599)).strip()))
        except ArithmeticError:
            expires_in = 3599
        token = str(data["access_token"])
        cache.set(self.token_cache_key, token, timeout=max(expires_in - TOKEN_EARLY_REFRESH, 1))
        return token

    def _post(self, path: str, payload: dict, *, idempotent: bool, answer=None) -> HttpResponse:
        response = http_request(
            "POST",
            f"{self.base_url}{path}",
            idempotent=idempotent,
            answer=answer or _error_code_answer,
            json=payload,
            headers={"Authorization": f"Bearer {self.access_token()}"},
        )
        if _data(response).get("errorCode") == wire.BEARER_REFUSED:
            cache.delete(self.token_cache_key)  # revoked or replaced: fetch a new one next time
        return response

    def _credentials(self) -> dict[str, str]:
        timestamp = wire.stk_timestamp(datetime.now(tz=wire.NAIROBI))
        return {
            "BusinessShortCode": self.shortcode,
            "Password": wire.stk_password(self.shortcode, self._passkey, timestamp),
            "Timestamp": timestamp,
        }

    # --- STK push and query ------------------------------------------------------------------
    def push_start(self, request: PushRequest) -> PushStarted:
        """Sent once, never retried: a timeout (ProviderError code "timeout") leaves it unknown
        whether the prompt went out."""
        amount = request.amount
        if amount.currency != wire.CURRENCY:
            raise ProviderError(f"M-Pesa takes KES, not {amount.currency}", code="currency")
        if amount.minor % 100 or amount.minor <= 0:
            raise ProviderError(
                f"M-Pesa takes whole shillings only, not {amount}", code="amount_not_whole"
            )
        phone = request.phone.removeprefix("+")
        if not _PHONE.fullmatch(phone):
            raise ProviderError("M-Pesa pays from a Kenyan mobile number", code="invalid_phone")
        if not 0 < len(request.account_number) <= 12:
            raise ProviderError("AccountReference must be 1 to 12 characters", code="account_ref")
        payload = {
            **self._credentials(),
            "TransactionType": self.transaction_type,
            "Amount": amount.minor // 100,
            "PartyA": phone,
            "PartyB": self.party_b,
            "PhoneNumber": phone,
            "CallBackURL": request.callback_url,
            "AccountReference": request.account_number,
            "TransactionDesc": (request.description or "Bill payment")[:13],
        }
        response = self._post("/mpesa/stkpush/v1/processrequest", payload, idempotent=False)
        data = _data(response)
        if not response.ok or str(data.get("ResponseCode")) != "0":
            error = wire.error_from(response, "STK push")
            log = {"intent": request.reference, "code": error.code}
            logger.warning("mpesa push refused", extra=log)
            raise error
        checkout = str(data["CheckoutRequestID"])
        log = {"intent": request.reference, "checkout_request_id": checkout}
        logger.info("mpesa push started", extra=log)
        return PushStarted(
            provider_reference=checkout,
            callback_key=checkout,
            provider_data={"merchant_request_id": str(data.get("MerchantRequestID", ""))},
            customer_message=str(data.get("CustomerMessage", "")),
        )

    def status_query(
        self, *, provider_reference: str, provider_data: dict[str, Any], amount: Money
    ) -> Verdict:
        """STK query: PENDING while Daraja says "being processed" (HTTP 500). Its answer has no
        receipt: a success here has receipt "" and no amount (the callback, or a Transaction
        Status result, carries them)."""
        payload = {**self._credentials(), "CheckoutRequestID": provider_reference}
        response = self._post(
            "/mpesa/stkpushquery/v1/query",
            payload,
            idempotent=True,
            answer=_answer_unless_busy,
        )
        verdict = wire.stk_query_verdict(response)
        log = {"checkout_request_id": provider_reference, "outcome": str(verdict.outcome)}
        logger.info("mpesa stk query", extra=log)
        return verdict

    # --- callbacks ---------------------------------------------------------------------------
    def callback_parse(self, callback: InboundCallback) -> CallbackEvent:
        """kind "stk", "c2b_validation", "c2b_confirmation", or "status_result" /
        "status_timeout" (a Transaction Status answer); never trusted (unsigned)."""
        if callback.kind == "stk":
            return wire.stk_callback_event(callback.body)
        if callback.kind in ("c2b_validation", "c2b_confirmation"):
            return wire.c2b_callback_event(callback.body)
        if callback.kind == "status_result":
            return wire.status_result_event(callback.body)
        if callback.kind == "status_timeout":
            return wire.status_timeout_event(callback.body)
        raise CallbackRejected(f"unknown M-Pesa callback kind {callback.kind!r}", status=404)

    def callback_ack(self, event: CallbackEvent | None, *, accepted: bool) -> Acknowledgement:
        """STK: Accepted. A paybill event: the confirmation's Success, or (not accepted) a
        validation refusal; the validation endpoint should call c2b_validation_ack."""
        if event is not None and event.paybill is not None:
            if not accepted:
                return self.c2b_validation_ack(accepted=False)
            return Acknowledgement(200, dict(wire.C2B_CONFIRMATION_ACK))
        if not accepted:
            return Acknowledgement(400, {"ResultCode": 1, "ResultDesc": "Rejected"})
        return Acknowledgement(200, dict(wire.STK_ACK))

    def c2b_validation_ack(
        self, *, accepted: bool, reason: str = "invalid_account"
    ) -> Acknowledgement:
        """Accept a C2B validation, or refuse it with the documented code for `reason`:
        invalid_msisdn, invalid_account, invalid_amount, invalid_kyc, invalid_shortcode, other
        (C2B00011..C2B00016)."""
        if accepted:
            return Acknowledgement(200, dict(wire.C2B_VALIDATION_ACCEPT))
        if reason not in wire.C2B_REJECT_CODES:
            raise ValueError(f"unknown C2B rejection reason {reason!r}")
        body = {"ResultCode": wire.C2B_REJECT_CODES[reason], "ResultDesc": "Rejected"}
        return Acknowledgement(200, body)

    # --- C2B register, Transaction Status ----------------------------------------------------
    def c2b_register(
        self, *, validation_url: str, confirmation_url: str, response_type: str = "Completed"
    ) -> dict[str, Any]:
        """Register the paybill's URLs; `response_type` is what M-Pesa does when validation
        does not answer in time ("Completed" or "Cancelled")."""
        if response_type not in ("Completed", "Cancelled"):
            raise ValueError("response_type is 'Completed' or 'Cancelled'")
        payload = {
            "ShortCode": self.shortcode,
            "ResponseType": response_type,
            "ConfirmationURL": confirmation_url,
            "ValidationURL": validation_url,
        }
        response = self._post("/mpesa/c2b/v1/registerurl", payload, idempotent=False)
        if not response.ok or str(_data(response).get("ResponseCode")) != "0":
            raise wire.error_from(response, "C2B URL registration")
        return _data(response)

    def transaction_status_request(
        self,
        *,
        result_url: str,
        queue_timeout_url: str,
        transaction_id: str = "",
        original_conversation_id: str = "",
        remarks: str = "Status check",
        occasion: str = "",
    ) -> dict[str, Any]:
        """Ask for a transaction's status (by receipt, or by OriginalConversationID). Daraja
        POSTs the answer to `result_url` later: read it with transaction_status_result_parse.
        Returns the sync acknowledgement (ConversationID, OriginatorConversationID, ...)."""
        if not (self.initiator and self._security_credential):
            raise ProviderError("M-Pesa initiator is not configured", code="not_configured")
        if not (transaction_id or original_conversation_id):
            raise ValueError("transaction_id or original_conversation_id is needed")
        payload = {
            "Initiator": self.initiator,
            "SecurityCredential": self._security_credential,
            "CommandID": "TransactionStatusQuery",
            "TransactionID": transaction_id,
            "OriginalConversationID": original_conversation_id,
            "PartyA": self.shortcode,
            "IdentifierType": "4",
            "ResultURL": result_url,
            "QueueTimeOutURL": queue_timeout_url,
            "Remarks": remarks,
            "Occasion": occasion,
        }
        response = self._post(
            "/mpesa/transactionstatus/v1/query",
            payload,
            idempotent=True,
            answer=_answer_unless_busy,
        )
        if not response.ok or str(_data(response).get("ResponseCode")) != "0":
            raise wire.error_from(response, "Transaction Status request")
        return _data(response)

    @property
    def confirms_paybill(self) -> bool:
        """Paybill confirmations are checked with Transaction Status before they are credited
        when the initiator (name and encrypted credential) is configured."""
        return bool(self.initiator and self._security_credential)

    def paybill_status_ask(self, *, receipt: str, result_url: str, timeout_url: str) -> str:
        """Ask about a paybill receipt; returns the ConversationID the result will carry."""
        answer = self.transaction_status_request(
            result_url=result_url,
            queue_timeout_url=timeout_url,
            transaction_id=receipt,
            remarks="Paybill check",
        )
        return str(answer.get("ConversationID") or "")[:64]

    def transaction_status_result_parse(self, body: bytes | dict) -> Verdict:
        """The result POSTed to ResultURL: SUCCEEDED (ReceiptNo, Amount) only for a Completed
        transaction; a non-zero ResultCode means not confirmed (FAILED with that code)."""
        return wire.transaction_status_verdict(body)

    def reversal_result_parse(self, body: bytes | dict) -> Verdict:
        return wire.reversal_verdict(body)
