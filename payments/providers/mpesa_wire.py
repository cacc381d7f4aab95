"""Daraja's wire format, quirks included: pure functions, no HTTP, no settings.

Read with shared/protocols.md §d. Amounts never pass through a float: bodies are parsed with
`parse_float=Decimal`. ResultCode is a number in STK callbacks and a string in STK query
answers and some results, so codes are compared as strings. Items and result parameters are
read by name, never by position (a Balance item has no Value; a key may appear twice).
"""

import base64
import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing.money import Money
from payments.providers.base import (
    CallbackEvent,
    CallbackRejected,
    Outcome,
    PaybillPayment,
    ProviderError,
    Verdict,
)
from payments.providers.http import HttpResponse

NAIROBI = ZoneInfo("Africa/Nairobi")
CURRENCY = "KES"

# STK ResultCode -> (outcome, what the customer is told). Match codes, never ResultDesc text.
STK_RESULTS: dict[str, tuple[Outcome, str]] = {
    "1": (Outcome.FAILED, "Not enough money in your M-Pesa account."),
    "2": (Outcome.FAILED, "The amount is below the M-Pesa minimum."),
    "3": (Outcome.FAILED, "The amount is above the M-Pesa maximum."),
    "4": (Outcome.FAILED, "Your M-Pesa daily limit is reached."),
    "8": (Outcome.FAILED, "Your M-Pesa account would go over its maximum balance."),
    "17": (Outcome.FAILED, "Same payment made just now. Try again in 2 minutes."),
    "1001": (Outcome.FAILED, "Another M-Pesa payment is in progress on your phone."),
    "1019": (Outcome.EXPIRED, "The payment request expired."),
    "1025": (Outcome.FAILED, "M-Pesa could not send the payment prompt."),
    "9999": (Outcome.FAILED, "M-Pesa could not send the payment prompt."),
    "1032": (Outcome.CANCELLED, "You cancelled the payment."),
    "1037": (Outcome.FAILED, "No answer from your phone."),
    "2001": (Outcome.FAILED, "Wrong PIN."),
    "8006": (Outcome.FAILED, "Your M-Pesa PIN is locked."),
}
STK_FAILED = (Outcome.FAILED, "M-Pesa could not complete the payment.")
NOT_CONFIRMED = "M-Pesa could not confirm the payment."

C2B_REJECT_CODES = {
    "invalid_msisdn": "C2B00011",
    "invalid_account": "C2B00012",
    "invalid_amount": "C2B00013",
    "invalid_kyc": "C2B00014",
    "invalid_shortcode": "C2B00015",
    "other": "C2B00016",
}
STK_ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}
C2B_VALIDATION_ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}
C2B_CONFIRMATION_ACK = {"ResultCode": 0, "ResultDesc": "Success"}

# Sync error codes worth trying again later. 500.001.1001 is transient only as "Unable to lock
# subscriber" (a push already in progress on that phone); as "Wrong credentials" it is not.
TRANSIENT_CODES = {"500.003.02", "500.003.03", "500.003.1001", "404.001.03"}
BEARER_REFUSED = "404.001.03"
IN_PROGRESS = "500.001.1001"


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def stk_timestamp(moment: datetime) -> str:
    """YYYYMMDDHHmmss in Kenyan time, as Daraja expects."""
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def money_parse(value: Any) -> Money:
    """A positive Daraja amount (1, 1.00, "5.00") as KES money."""
    try:
        money = Money.of(Decimal(str(value).strip()), CURRENCY)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise CallbackRejected(f"unreadable amount {value!r}") from exc
    if money.minor <= 0:
        raise CallbackRejected(f"amount must be positive, not {value!r}")
    return money


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    """Daraja sends a single object where a list of one is expected."""
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) else []


def body_json(body: bytes | dict) -> Any:
    if isinstance(body, dict):
        return body
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallbackRejected("body is not JSON") from exc


def error_from(response: HttpResponse, action: str) -> ProviderError:
    """A sync refusal ({"errorCode","errorMessage"}, or none at all) as a ProviderError."""
    data = _dict(response.json)
    code = str(data.get("errorCode") or f"http_{response.status}")
    message = str(data.get("errorMessage") or "")
    transient = (
        code in TRANSIENT_CODES
        or (code == IN_PROGRESS and "unable to lock subscriber" in message.lower())
        or ("errorCode" not in data and response.status >= 500)
    )
    return ProviderError(
        f"M-Pesa refused the {action}: {code} {message}".strip(), code=code, transient=transient
    )


def stk_verdict(code: str, items: dict[str, Any]) -> Verdict:
    """Only code 0 with a receipt is a payment; a 0 without one proves nothing yet."""
    if code == "0":
        receipt = str(items.get("MpesaReceiptNumber") or "").strip()
        if not receipt:
            return Verdict(Outcome.PENDING)
        amount = money_parse(items["Amount"]) if "Amount" in items else None
        return Verdict(Outcome.SUCCEEDED, receipt=receipt, amount=amount)
    outcome, message = STK_RESULTS.get(code, STK_FAILED)
    return Verdict(outcome, failure_code=code, failure_message=message)


def stk_query_verdict(response: HttpResponse) -> Verdict:
    data = _dict(response.json)
    message = str(data.get("errorMessage", "")).lower()
    if str(data.get("errorCode")) == IN_PROGRESS and "being processed" in message:
        return Verdict(Outcome.PENDING)
    if not response.ok or "ResultCode" not in data:
        raise error_from(response, "STK query")
    code = str(data["ResultCode"]).strip()
    if code == "4999":  # "still under processing"
        return Verdict(Outcome.PENDING)
    if code == "0":  # the query answer carries no receipt and no amount
        return Verdict(Outcome.SUCCEEDED)
    return stk_verdict(code, {})


def stk_callback_event(body: bytes | dict) -> CallbackEvent:
    stk = _dict(_dict(body_json(body)).get("Body")).get("stkCallback")
    if not isinstance(stk, dict) or "ResultCode" not in stk:
        raise CallbackRejected("missing Body.stkCallback")
    checkout = stk.get("CheckoutRequestID")
    if not isinstance(checkout, str) or not checkout.strip():
        raise CallbackRejected("missing CheckoutRequestID")
    items = {
        str(item["Name"]): item["Value"]
        for item in _list(_dict(stk.get("CallbackMetadata")).get("Item"))
        if isinstance(item, dict) and "Name" in item and "Value" in item
    }
    verdict = stk_verdict(str(stk["ResultCode"]).strip(), items)
    return CallbackEvent(event_key=checkout, callback_key=checkout, verdict=verdict)


def c2b_callback_event(body: bytes | dict) -> CallbackEvent:
    """A validation or confirmation: the same JSON, all values strings."""
    data = body_json(body)
    receipt = str(_dict(data).get("TransID") or "").strip()
    if not receipt:
        raise CallbackRejected("missing TransID")
    payment = PaybillPayment(
        receipt=receipt,
        amount=money_parse(data.get("TransAmount")),
        bill_reference=str(data.get("BillRefNumber") or "").strip(),
        payer=str(data.get("MSISDN") or ""),
        payer_name=str(data.get("FirstName") or "").strip(),
    )
    return CallbackEvent(event_key=receipt, paybill=payment)


def _result(body: bytes | dict) -> tuple[str, dict, dict[str, Any]]:
    """A Transaction Status or Reversal result: (code, Result, parameters by key; the first
    of duplicate keys wins, keys without a Value are left out)."""
    result = _dict(body_json(body)).get("Result")
    if not isinstance(result, dict) or "ResultCode" not in result:
        raise CallbackRejected("missing Result")
    params: dict[str, Any] = {}
    for item in _list(_dict(result.get("ResultParameters")).get("ResultParameter")):
        if isinstance(item, dict) and item.get("Key") and "Value" in item:
            params.setdefault(str(item["Key"]), item["Value"])
    return str(result["ResultCode"]).strip(), result, params


def transaction_status_verdict(body: bytes | dict) -> Verdict:
    """SUCCEEDED only for a Completed transaction with a receipt. A non-zero ResultCode (an
    unknown transaction id, a bad initiator credential, ...) means M-Pesa did not confirm it."""
    code, _result_body, params = _result(body)
    if code != "0":
        return Verdict(Outcome.FAILED, failure_code=code, failure_message=NOT_CONFIRMED)
    status = str(params.get("TransactionStatus", "")).strip()
    receipt = str(params.get("ReceiptNo") or "").strip()
    if status == "Completed" and receipt:
        amount = money_parse(params["Amount"]) if "Amount" in params else None
        return Verdict(Outcome.SUCCEEDED, receipt=receipt, amount=amount)
    if status.lower() in ("", "pending", "processing"):
        return Verdict(Outcome.PENDING)
    return Verdict(Outcome.FAILED, failure_code=status, failure_message=NOT_CONFIRMED)


def status_result_event(body: bytes | dict) -> CallbackEvent:
    """A Transaction Status result POSTed to our ResultURL: one per query, keyed on its
    ConversationID (which the query's answer gave us), read as transaction_status_verdict."""
    verdict = transaction_status_verdict(body)
    _code, result, _params = _result(body)
    conversation = str(result.get("ConversationID") or "").strip()[:64]
    if not conversation:
        raise CallbackRejected("missing ConversationID")
    return CallbackEvent(
        event_key=f"status:{conversation}", callback_key=conversation, verdict=verdict
    )


def status_timeout_event(body: bytes | dict) -> CallbackEvent:
    """A notice to our QueueTimeOutURL: the query waited too long in Daraja's queue. Not an
    answer (the query is asked again); keyed on the body, so a resend is a duplicate."""
    digest = hashlib.sha256(body if isinstance(body, bytes) else repr(body).encode()).hexdigest()
    return CallbackEvent(event_key=f"timeout:{digest[:40]}")


def reversal_verdict(body: bytes | dict) -> Verdict:
    """SUCCEEDED with the reversal's own TransactionID and amount, or FAILED with its code
    (R000001 already reversed, R000002 unknown original transaction, ...)."""
    code, result, params = _result(body)
    if code != "0":
        message = str(result.get("ResultDesc") or "The reversal failed.")[:160]
        return Verdict(Outcome.FAILED, failure_code=code, failure_message=message)
    amount = money_parse(params["Amount"]) if "Amount" in params else None
    receipt = str(result.get("TransactionID") or "")
    return Verdict(Outcome.SUCCEEDED, receipt=receipt, amount=amount)
